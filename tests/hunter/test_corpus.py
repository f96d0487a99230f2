"""Hunter's quality on the labelled corpus (``tests/hunter/corpus/labels.yaml``).

Every corpus file is labelled with the categories Hunter must report for it
(an empty list: a clean look-alike that must not fire).  Hunter must reach a
precision of at least 0.9 overall, and in every category Bandit covers a recall
at least Bandit's on the same files (Bandit runs in the test);
``bench/hunter.py`` prints the per-category figures beside Bandit's and
detect-secrets'.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from grace_kernel.hunter import Scanner, scan_paths
from grace_kernel.hunter._registry import CATEGORIES

CORPUS = Path(__file__).resolve().parent / "corpus"
INDEX_FILES = frozenset({"labels.yaml", "ruff.toml"})
MIN_PRECISION = 0.9
MIN_CASES = 170
MIN_CLEAN = 50
MIN_SECRETS = 30
# Hunter files findings in cell outputs under "output"; the corpus labels them "notebook".
FOLD = {"output": "notebook"}

Table = dict[str, dict[str, int]]


def load_labels() -> dict[str, frozenset[str]]:
    raw = yaml.safe_load((CORPUS / "labels.yaml").read_text(encoding="utf-8"))
    assert isinstance(raw, dict), "labels.yaml must map relative paths to category lists"
    labels: dict[str, frozenset[str]] = {}
    for name, categories in raw.items():
        assert isinstance(categories, list), f"{name}: expected a list of categories"
        labels[str(name)] = frozenset(str(c) for c in categories)
    return labels


def corpus_files() -> Iterator[str]:
    for path in sorted(CORPUS.rglob("*")):
        relative = path.relative_to(CORPUS)
        hidden = any(part.startswith(".") for part in relative.parts)  # tool caches
        if path.is_file() and not hidden and path.name not in INDEX_FILES:
            yield relative.as_posix()


@pytest.fixture(scope="module")
def labels() -> dict[str, frozenset[str]]:
    return load_labels()


@pytest.fixture(scope="module")
def scanned(labels: dict[str, frozenset[str]]) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Categories Hunter reports per corpus file, and the files whose scan raised."""
    scanner = Scanner()
    found: dict[str, set[str]] = {}
    crashed: dict[str, str] = {}
    for name in labels:
        try:
            result = scanner.scan_file(CORPUS / name, name=name)
        except Exception as exc:  # reported by its own test; the others still score
            crashed[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
            continue
        for finding in result.findings:
            category = finding.rule.category
            found.setdefault(name, set()).add(FOLD.get(category, category))
    return found, crashed


@pytest.fixture(scope="module")
def reported(scanned: tuple[dict[str, set[str]], dict[str, str]]) -> dict[str, set[str]]:
    return scanned[0]


def score(labels: dict[str, frozenset[str]], found: dict[str, set[str]]) -> Table:
    table = {c: {"tp": 0, "fp": 0, "fn": 0} for c in sorted(CATEGORIES)}
    for name, expected in labels.items():
        got = found.get(name, set())
        for category in expected & got:
            table[category]["tp"] += 1
        for category in got - expected:
            table[category]["fp"] += 1
        for category in expected - got:
            table[category]["fn"] += 1
    return table


def render(table: Table, labels: dict[str, frozenset[str]], found: dict[str, set[str]]) -> str:
    lines = [f"{'category':18s} {'tp':>4s} {'fp':>4s} {'fn':>4s} {'recall':>7s} {'prec':>6s}"]
    for category, cell in table.items():
        tp, fp, fn = cell["tp"], cell["fp"], cell["fn"]
        recall = f"{tp / (tp + fn):.2f}" if tp + fn else "-"
        precision = f"{tp / (tp + fp):.2f}" if tp + fp else "-"
        lines.append(f"{category:18s} {tp:4d} {fp:4d} {fn:4d} {recall:>7s} {precision:>6s}")
    lines.append("mismatches (expected -> reported):")
    for name, expected in sorted(labels.items()):
        got = found.get(name, set())
        if got != expected:
            lines.append(f"  {name}: {sorted(expected)} -> {sorted(got)}")
    return "\n".join(lines)


def test_every_file_is_labelled_and_every_label_names_a_file(
    labels: dict[str, frozenset[str]],
) -> None:
    files = set(corpus_files())
    assert sorted(files - labels.keys()) == [], "corpus files without a label"
    assert sorted(labels.keys() - files) == [], "labels for files that do not exist"


def test_every_label_is_a_known_category(labels: dict[str, frozenset[str]]) -> None:
    unknown = {name: sorted(c - CATEGORIES) for name, c in labels.items() if c - CATEGORIES}
    assert unknown == {}


def test_corpus_is_big_enough(labels: dict[str, frozenset[str]]) -> None:
    assert len(labels) >= MIN_CASES
    assert sum(1 for c in labels.values() if not c) >= MIN_CLEAN
    assert sum(1 for c in labels.values() if "secrets" in c) >= MIN_SECRETS
    labelled = set().union(*labels.values())
    expected = CATEGORIES - FOLD.keys()
    assert sorted(expected - labelled) == [], "categories without a case"


def test_python_cases_parse() -> None:
    import ast

    for name in corpus_files():
        if name.endswith(".py"):
            ast.parse((CORPUS / name).read_text(encoding="utf-8"), filename=name)


def test_hunter_scans_every_case_without_crashing(
    scanned: tuple[dict[str, set[str]], dict[str, str]],
) -> None:
    assert scanned[1] == {}


def test_scan_paths_reads_the_corpus_like_grace_scan() -> None:
    """The directory walk reaches every labelled file and labels findings by relative path."""
    labels = load_labels()
    result = scan_paths([CORPUS], scanner=Scanner(), jobs=1, base=CORPUS)
    assert result.files >= len(labels)
    assert {f.file for f in result.findings} <= set(labels)


def test_hunter_precision_overall(
    labels: dict[str, frozenset[str]], reported: dict[str, set[str]]
) -> None:
    table = score(labels, reported)
    tp = sum(c["tp"] for c in table.values())
    fp = sum(c["fp"] for c in table.values())
    precision = tp / (tp + fp) if tp + fp else 0.0
    assert precision >= MIN_PRECISION, f"overall precision {precision:.3f}\n" + render(
        table, labels, reported
    )


def _bench() -> ModuleType:
    """bench/hunter.py, whose Bandit runner and category mapping the test shares."""
    path = Path(__file__).resolve().parents[2] / "bench" / "hunter.py"
    spec = importlib.util.spec_from_file_location("grace_bench_hunter", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _recall(cell: dict[str, int]) -> float:
    return cell["tp"] / (cell["tp"] + cell["fn"]) if cell["tp"] + cell["fn"] else 1.0


def test_hunter_recall_is_at_least_bandits_in_every_category_bandit_covers(
    labels: dict[str, frozenset[str]], reported: dict[str, set[str]]
) -> None:
    bench = _bench()
    found_by_bandit = bench.bandit_categories(CORPUS)
    assert found_by_bandit is not None, "bandit is a dev dependency: run `make setup`"
    ours = score(labels, reported)
    theirs = score(labels, found_by_bandit)
    worse = {
        category: (round(_recall(ours[category]), 3), round(_recall(theirs[category]), 3))
        for category in bench.BANDIT_COVERS
        if category in ours and _recall(ours[category]) < _recall(theirs[category])
    }
    assert worse == {}, "Hunter's recall below Bandit's (hunter, bandit)\n" + render(
        ours, labels, reported
    )
