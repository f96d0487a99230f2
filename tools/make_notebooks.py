"""Write the tutorial notebooks from the cell sources below (outputs stay empty).

    python tools/make_notebooks.py

The notebooks are committed; edit them here and re-run this script, so review
diffs stay readable.  The script formats what it writes with ruff, as
``make lint`` expects.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent

QUICKSTART = [
    new_markdown_cell(
        "# Grace quickstart: attest, verify, prove\n\n"
        "Grace keeps a signed, tamper-evident ledger in `.grace/` at the root of your "
        "project (the nearest `.grace` above this notebook, or the one `GRACE_HOME` "
        "names). In this notebook you will:\n\n"
        "1. open the workspace,\n"
        "2. make a small data file and a result computed from it,\n"
        "3. record both in the ledger as one signed statement,\n"
        "4. verify the whole ledger,\n"
        "5. prove that your record is in the ledger, with a proof anyone can check,\n"
        "6. export a bundle that someone else can verify without your workspace."
    ),
    new_code_cell(
        "import json\n"
        "import os\n"
        "import random\n"
        "import statistics\n"
        "import tempfile\n"
        "from pathlib import Path\n"
        "\n"
        "from grace_kernel import Settings, Workspace\n"
        "from grace_kernel.ledger import export_bundle, verify_bundle, verify_inclusion\n"
        "\n"
        "settings = Settings.from_env(os.environ, cwd=Path.cwd())\n"
        "ws = Workspace.open(settings)\n"
        "status = ws.status()\n"
        "print('workspace  ', status['workspace'])\n"
        "print('signing key', status['active_keyid'])\n"
        "print('records    ', status['size'])"
    ),
    new_markdown_cell(
        "## 1. A data file and a result\n\n"
        "The data are 200 synthetic sensor readings from a seeded generator, so every "
        "run produces the same bytes (and therefore the same SHA-256)."
    ),
    new_code_cell(
        "work = Path(tempfile.mkdtemp(prefix='grace-quickstart-'))\n"
        "rng = random.Random(2026)\n"
        "readings = [round(rng.gauss(21.5, 0.8), 3) for _ in range(200)]\n"
        "data_file = work / 'readings.csv'\n"
        "data_file.write_text('reading\\n' + '\\n'.join(map(str, readings)) + '\\n')\n"
        "\n"
        "result = {'n': len(readings), 'mean': statistics.fmean(readings),\n"
        "          'stdev': statistics.stdev(readings)}\n"
        "result_file = work / 'summary.json'\n"
        "result_file.write_text(json.dumps(result, indent=2, sort_keys=True) + '\\n')\n"
        "result"
    ),
    new_markdown_cell(
        "## 2. Attest them\n\n"
        "`ws.attest` records the SHA-256 of each file as the statement's subjects, with "
        "a predicate you choose. The record is a DSSE envelope around an in-toto "
        "statement, signed with the workspace's Ed25519 key. (`grace attest FILE...` "
        "does the same from a terminal.)"
    ),
    new_code_cell(
        "entry = ws.attest(\n"
        "    [data_file, result_file],\n"
        "    predicate={'step': 'summarise readings', 'inputs': ['readings.csv'],\n"
        "               'outputs': ['summary.json']},\n"
        ")\n"
        "envelope, statement = entry.decode()\n"
        "print('ledger index', entry.index)\n"
        "print('signed by   ', envelope.signatures[0].keyid)\n"
        "for subject in statement.subjects:\n"
        "    print(subject.sha256, subject.name)"
    ),
    new_markdown_cell(
        "## 3. Verify the whole ledger\n\n"
        "Verification checks every signature, which key was allowed to sign each record, "
        "the hash link from each record to the one before it, and the Merkle root against "
        "every signed checkpoint."
    ),
    new_code_cell("report = ws.verify()\nassert report.ok, report.problem\nreport.to_json()"),
    new_markdown_cell(
        "## 4. Prove inclusion\n\n"
        "A checkpoint signs the Merkle root of the first *n* records. An inclusion proof "
        "is the handful of hashes that lead from your record's leaf hash to that root: "
        "anyone holding the signed root can check it, without the rest of the ledger. "
        "`verify_inclusion` is the independent RFC 9162 verifier; it trusts nothing but "
        "its arguments."
    ),
    new_code_cell(
        "checkpoint = ws.ledger.checkpoint()\n"
        "print(checkpoint.to_text())\n"
        "proof = ws.ledger.inclusion_proof(entry.index, checkpoint.size)\n"
        "verify_inclusion(proof.leaf_hash, proof.leaf_index, proof.tree_size,\n"
        "                 proof.proof, checkpoint.root)\n"
        "print(f'record {entry.index} is in the signed tree of size {checkpoint.size}; '\n"
        "      f'proof of {len(proof.proof)} hashes verified')"
    ),
    new_markdown_cell(
        "A proof for a *different* record does not verify against your record's leaf: "
        "the verifier raises `InvalidProofError`."
    ),
    new_code_cell(
        "from grace_kernel.errors import InvalidProofError\n"
        "\n"
        "other = ws.ledger.inclusion_proof(0, checkpoint.size)\n"
        "try:\n"
        "    verify_inclusion(proof.leaf_hash, other.leaf_index, other.tree_size,\n"
        "                     other.proof, checkpoint.root)\n"
        "except InvalidProofError as exc:\n"
        "    print('rejected as expected:', exc)\n"
        "else:\n"
        "    raise AssertionError('a wrong proof verified')"
    ),
    new_markdown_cell(
        "## 5. Export a bundle for someone else\n\n"
        "The bundle holds every record, the signed checkpoint and the public keys. "
        "`grace verify --bundle DIR` (or `verify_bundle`) checks it with nothing else."
    ),
    new_code_cell(
        "bundle = work / 'bundle'\n"
        "summary = export_bundle(ws.ledger, bundle)\n"
        "print(sorted(p.name for p in bundle.iterdir()))\n"
        "bundle_report = verify_bundle(bundle)\n"
        "assert bundle_report.ok, bundle_report.problem\n"
        "print(f'bundle verified: {bundle_report.size} records, root {summary.root.hex()}')"
    ),
    new_code_cell("ws.close()"),
    new_markdown_cell(
        "From a terminal, the same in three commands:\n\n"
        "```bash\n"
        'grace attest readings.csv summary.json --predicate \'{"step": "summarise"}\'\n'
        "grace verify\n"
        "grace ledger export --out bundle && grace verify --bundle bundle\n"
        "```"
    ),
]


def write(path: Path, cells: list[nbformat.NotebookNode]) -> None:
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"{path.stem}-{number:02d}"
    nbformat.validate(notebook)
    path.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "ruff", "format", "--quiet", str(path)], check=True)


def main() -> None:
    write(ROOT / "notebooks" / "quickstart.ipynb", QUICKSTART)


if __name__ == "__main__":
    main()
