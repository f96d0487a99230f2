"""Rule packs: typed metadata, explicit registration, plugins through an entry point."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import pytest

from grace_kernel.errors import InputError
from grace_kernel.hunter import ENTRY_POINT_GROUP, RuleRegistry, default_registry
from grace_kernel.hunter._pyscan import PyContext, scan_tree
from grace_kernel.hunter._registry import Hit

PACK = """\
rules:
  - id: GRC-ORG-001
    title: Call to a forbidden internal helper
    category: dangerous-call
    inspects: ast.Call
    severity: high
    confidence: high
    cwe: 676
    rationale: Our platform team retired this helper.
    fix: Call the supported client instead.
    references: [https://example.org/platform]
"""


def forbidden_helper(node: ast.AST, ctx: PyContext) -> Iterable[Hit]:
    if isinstance(node, ast.Call) and ctx.call_name(node) == "internal.legacy_call":
        yield Hit(node, "internal.legacy_call is retired")


_PLUGIN_PACK: list[Path] = []


def register_org_pack(registry: RuleRegistry) -> None:
    """What a plugin's entry point names: load its pack and its checks."""
    registry.load_pack(_PLUGIN_PACK[0])
    registry.add_check("GRC-ORG-001", (ast.Call,), forbidden_helper)


@pytest.fixture
def org_pack(tmp_path: Path) -> Iterable[Path]:
    path = tmp_path / "org_pack.yaml"
    path.write_text(PACK, encoding="utf-8")
    _PLUGIN_PACK.append(path)
    yield path
    _PLUGIN_PACK.clear()


@pytest.mark.usefixtures("org_pack")
def test_a_plugin_pack_loads_through_the_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = metadata.EntryPoint(
        name="org", value=f"{__name__}:register_org_pack", group=ENTRY_POINT_GROUP
    )

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        return [plugin] if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    registry = default_registry()
    assert "GRC-ORG-001" in registry.rules
    source = "import internal\ninternal.legacy_call()\n"
    findings = list(scan_tree(PyContext(ast.parse(source), source), registry))
    assert [f.rule.id for f in findings if f.rule.id.startswith("GRC-ORG")] == ["GRC-ORG-001"]


def test_a_check_without_metadata_is_refused() -> None:
    registry = RuleRegistry()
    registry.add_check("GRC-PY-999", (ast.Call,), forbidden_helper)
    with pytest.raises(InputError, match="GRC-PY-999"):
        registry.check_complete()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (PACK.replace("category: dangerous-call", "category: vibes"), "unknown category"),
        (PACK.replace("    cwe: 676\n", ""), "missing cwe"),
        (PACK.replace("severity: high", "severity: dire"), "bad severity"),
        (PACK.replace("GRC-ORG-001", "rule one"), "id must look like"),
        (PACK + "    pattern: '(unclosed'\n", "bad regex"),
        ("rules: 7\n", "'rules' list"),
        ("rules: [\n", "not valid YAML"),
    ],
)
def test_malformed_packs_name_the_file_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        RuleRegistry().load_pack(path)
    assert str(path) in caught.value.message


def test_shipped_rules_have_complete_metadata() -> None:
    registry = default_registry()
    assert len(registry.rules) >= 60
    for meta in registry:
        assert meta.rationale
        assert meta.fix
        assert meta.cwe > 0
    assert {m.category for m in registry} >= {
        "dangerous-call",
        "injection",
        "sql",
        "deserialization",
        "crypto",
        "obfuscation",
        "network",
        "notebook",
        "secrets",
        "path-traversal",
        "prompt-injection",
        "script-injection",
    }
