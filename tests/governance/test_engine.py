"""The policy engine: load errors with file:line, workspace overrides, hot reload, fail closed.

Every test works on a private copy of ``data/policies`` in ``tmp_path`` and
breaks or extends the copy, never the shipped files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grace_kernel.events import EventBus, PolicyReloadFailed
from grace_kernel.governance import (
    Action,
    ActionKind,
    Effect,
    PolicyEngine,
    PolicyLoadError,
    PolicyProblem,
    Severity,
    command_facts,
    host_facts,
    load_policy_set,
    path_facts,
)
from tests.governance.conftest import SEEDED, FakeClock, action, cell, copy_policies


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    return copy_policies(tmp_path / "policies")


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    path = tmp_path / "workspace-policies"
    path.mkdir()
    return path


def edit(path: Path, text: str) -> None:
    """Rewrite a file and move its mtime forward, as a later save would."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    later = max(before + 1_000_000_000, path.stat().st_mtime_ns)
    os.utime(path, ns=(later, later))


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    edit(path, text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the first line containing ``needle``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def problems_of(seeded: Path, override_dir: Path | None = None) -> list[PolicyProblem]:
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_set(seeded, override_dir)
    assert caught.value.problems
    assert "grace policy lint" in (caught.value.hint or "")
    return caught.value.problems


def ls() -> Action:
    return action(ActionKind.SHELL_RUN, "ls", facts=command_facts("ls"))


# ---------------------------------------------------------------------------- loading


def test_seeded_policies_load_with_ids_reasons_and_lines() -> None:
    loaded = load_policy_set(SEEDED)
    assert len(loaded.policies) >= 20
    for info in loaded.policies.values():
        assert info.reason, info.id
        assert info.seeded
        source = Path(info.file).read_text(encoding="utf-8").splitlines()
        assert source[info.line - 1].startswith(f'@id("{info.id}")'), info
    assert loaded.policies["cell-high-approval"].approval is True
    assert loaded.policies["cell-medium-notify"].obligations == frozenset({"notify"})
    assert loaded.policies["shell-allow-list"].overridable is True
    assert loaded.policies["mode-lockdown"].actions is None  # applies to every action


def test_fingerprint_changes_with_the_policy_text(policies: Path) -> None:
    first = load_policy_set(policies).fingerprint
    assert load_policy_set(policies).fingerprint == first
    replace_in(policies / "30-shell.cedar", '"pwd", ', "")
    assert load_policy_set(policies).fingerprint != first


def test_syntax_error_names_file_and_line_of_the_broken_policy(policies: Path) -> None:
    broken = policies / "30-shell.cedar"
    replace_in(broken, 'permit (principal, action == Action::"shell.run", resource);', "permit (")
    [problem] = problems_of(policies)
    assert problem.file == str(broken)
    assert problem.line == line_of(broken, '@id("shell-approval")')
    assert "syntax error" in problem.message
    assert str(problem).startswith(f"{broken}:{problem.line}: ")


def test_syntax_error_in_a_middle_policy_is_located_past_strings_and_comments(
    policies: Path,
) -> None:
    broken = policies / "40-network.cedar"
    # A ';' inside a string and a comment must not confuse the locator.
    replace_in(broken, '"huggingface.co"]', '"huggingface.co", "a;b"] // x; y')
    replace_in(broken, "when { context.loopback };", "when { context.loopback ;")
    [problem] = problems_of(policies)
    assert (problem.file, problem.line) == (str(broken), line_of(broken, '@id("net-loopback")'))


def test_unknown_context_attribute_names_the_line_of_its_policy(policies: Path) -> None:
    broken = policies / "60-knowledge.cedar"
    replace_in(broken, "context.trust_permille >= 400 &&", "context.trust_score >= 400 &&")
    [problem] = problems_of(policies)
    assert (problem.file, problem.line) == (str(broken), line_of(broken, "knowledge-review"))
    assert "trust_score" in problem.message


def test_unknown_action_is_an_error_at_its_policy(policies: Path) -> None:
    broken = policies / "70-models-config.cedar"
    replace_in(broken, 'Action::"config.change"', 'Action::"config.mutate"')
    problems = problems_of(policies)
    assert {(p.file, p.line) for p in problems} == {
        (str(broken), line_of(broken, "config-change-approval"))
    }
    assert any("config.mutate" in p.message for p in problems)


def test_missing_id_is_an_error_at_the_policy(policies: Path) -> None:
    broken = policies / "60-knowledge.cedar"
    line = line_of(broken, '@id("knowledge-review")')
    replace_in(broken, '@id("knowledge-review")\n', "")
    [problem] = problems_of(policies)
    assert (problem.file, problem.line) == (str(broken), line)  # now its @reason line
    assert "no @id" in problem.message


def test_missing_reason_is_an_error_at_the_policy(policies: Path) -> None:
    broken = policies / "60-knowledge.cedar"
    replace_in(broken, '@reason("an untrusted source (score < 0.4) is refused")\n', "")
    [problem] = problems_of(policies)
    assert (problem.file, problem.line) == (str(broken), line_of(broken, "knowledge-untrusted"))
    assert "'knowledge-untrusted' has no @reason" in problem.message


def test_duplicate_id_across_files_names_both_places(policies: Path) -> None:
    extra = policies / "99-extra.cedar"
    edit(
        extra,
        '// a second file reusing an id\n\n@id("net-loopback")\n@reason("again")\n'
        'permit (principal, action == Action::"model.train", resource);\n',
    )
    first = policies / "40-network.cedar"
    [problem] = problems_of(policies)
    assert (problem.file, problem.line) == (str(extra), 3)
    assert f"already used at {first}:{line_of(first, 'net-loopback')}" in problem.message


def test_duplicate_id_within_one_file_points_at_the_second(policies: Path) -> None:
    target = policies / "70-models-config.cedar"
    replace_in(target, '@id("config-change-approval")', '@id("model-train")')
    [problem] = problems_of(policies)
    assert (problem.file, problem.line) == (str(target), line_of(target, "changing Grace's") - 1)
    assert f"already used at {target}:{line_of(target, 'model-train')}" in problem.message


def test_broken_schema_is_named(policies: Path) -> None:
    schema = policies / "grace.cedarschema"
    edit(schema, schema.read_text(encoding="utf-8").replace("type Findings = {", "type Findings {"))
    [problem] = problems_of(policies)
    assert problem.file == str(schema)
    assert problem.message.startswith("schema: ")


def test_missing_schema_is_named(policies: Path) -> None:
    (policies / "grace.cedarschema").unlink()
    [problem] = problems_of(policies)
    assert problem.file == str(policies / "grace.cedarschema")
    assert "cannot read" in problem.message


def test_empty_policy_dir_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    [problem] = problems_of(empty)
    assert "grace.cedarschema" in problem.file
    only_schema = copy_policies(tmp_path / "only-schema")
    for path in only_schema.glob("*.cedar"):
        path.unlink()
    [problem] = problems_of(only_schema)
    assert (problem.file, problem.message) == (str(only_schema), "no seeded policy files")


def test_dangling_policy_link_is_a_load_problem_not_a_crash(
    policies: Path, overrides: Path
) -> None:
    # e.g. an editor's lock link ".#30-shell.cedar" while a file is being edited
    (overrides / ".#mine.cedar").symlink_to(overrides / "nowhere")
    [problem] = problems_of(policies, overrides)
    assert problem.file == str(overrides / ".#mine.cedar")
    assert "cannot read" in problem.message


def test_every_problem_in_the_set_is_listed(policies: Path) -> None:
    replace_in(policies / "60-knowledge.cedar", '@reason("a trusted source (score >= 0.7)")\n', "")
    replace_in(policies / "40-network.cedar", "context.loopback", "context.lo")
    problems = problems_of(policies)
    assert {Path(p.file).name for p in problems} == {"60-knowledge.cedar", "40-network.cedar"}


# ---------------------------------------------------------------------------- overrides


def test_workspace_forbid_tightens(policies: Path, overrides: Path) -> None:
    edit(
        overrides / "10-no-pypi.cedar",
        '@id("ws-no-pypi")\n@reason("this project vendors its packages")\n'
        'forbid (principal, action == Action::"net.connect", resource)\n'
        'when { context.host == "pypi.org" };\n',
    )
    engine = PolicyEngine(seeded_dir=policies, override_dir=overrides)
    decision = engine.decide(
        action(ActionKind.NET_CONNECT, "PyPI.org", facts=host_facts("PyPI.org"))
    )
    assert (decision.effect, decision.policy_ids) == (Effect.DENY, ("ws-no-pypi",))
    assert decision.reasons == ("this project vendors its packages",)
    github = engine.decide(
        action(ActionKind.NET_CONNECT, "github.com", facts=host_facts("github.com"))
    )
    assert github.effect is Effect.ALLOW
    assert engine.active is not None
    assert engine.active.policies["ws-no-pypi"].seeded is False


def test_workspace_forbid_may_cover_any_action(policies: Path, overrides: Path) -> None:
    edit(
        overrides / "no-cells.cedar",
        '@id("ws-freeze")\n@reason("frozen for the audit")\n'
        "forbid (principal, action, resource);\n",
    )
    engine = PolicyEngine(seeded_dir=policies, override_dir=overrides)
    assert engine.decide(cell()).policy_ids == ("ws-freeze",)
    assert engine.decide(cell()).effect is Effect.DENY


def test_workspace_permit_loosens_an_overridable_action(policies: Path, overrides: Path) -> None:
    make = action(ActionKind.SHELL_RUN, "make test", facts=command_facts("make test"))
    before = PolicyEngine(seeded_dir=policies, override_dir=overrides).decide(make)
    assert before.effect is Effect.REQUIRE_APPROVAL
    edit(
        overrides / "20-make.cedar",
        "// this project builds with make\n"
        '@id("ws-make")\n@reason("the project\'s build")\n'
        'permit (principal, action == Action::"shell.run", resource)\n'
        'when { !context.shell_syntax && context.command_prefixes.contains("make") };\n',
    )
    engine = PolicyEngine(seeded_dir=policies, override_dir=overrides)
    decision = engine.decide(make)
    assert (decision.effect, decision.policy_ids) == (Effect.ALLOW, ("ws-make",))
    piped = action(ActionKind.SHELL_RUN, "make | sh", facts=command_facts("make | sh"))
    assert engine.decide(piped).effect is Effect.REQUIRE_APPROVAL
    # A loosened action still obeys the seeded forbids.
    assert engine.decide(make, mode="safe").policy_ids == ("mode-safe-no-shell",)


@pytest.mark.parametrize(
    ("scope", "named"),
    [
        ('action == Action::"secret.read"', "secret.read"),
        ('action == Action::"file.write"', "file.write"),
        ('action in [Action::"shell.run", Action::"file.delete"]', "file.delete, shell.run"),
        ("action", "every action"),
    ],
)
def test_workspace_permit_for_a_non_overridable_action_is_rejected(
    policies: Path, overrides: Path, scope: str, named: str
) -> None:
    path = overrides / "30-loosen.cedar"
    edit(
        path,
        f'// tries to loosen\n\n@id("ws-loosen")\n@reason("convenience")\n'
        f"permit (principal, {scope}, resource);\n",
    )
    [problem] = problems_of(policies, overrides)
    assert (problem.file, problem.line) == (str(path), 3)
    assert f"workspace permit 'ws-loosen' loosens {named}" in problem.message
    assert "shell.run" in problem.message.split("may loosen only", 1)[1]
    engine = PolicyEngine(seeded_dir=policies, override_dir=overrides)
    assert engine.active is None  # nothing half-loaded
    assert engine.decide(cell()).effect is Effect.DENY


# ---------------------------------------------------------------------------- hot reload


def test_broken_edit_keeps_the_last_good_set_and_reports_it(policies: Path) -> None:
    bus = EventBus()
    seen: list[PolicyReloadFailed] = []
    bus.subscribe(PolicyReloadFailed, seen.append)
    clock = FakeClock()
    engine = PolicyEngine(seeded_dir=policies, events=bus, reload_interval=0, monotonic=clock)
    assert engine.active is not None
    good = engine.active.fingerprint
    assert engine.decide(ls()).effect is Effect.ALLOW

    shell_file = policies / "30-shell.cedar"
    replace_in(shell_file, '"ls", "pwd"', '"ls" "pwd"')  # a syntax error
    clock.advance(1)
    decision = engine.decide(ls())
    assert decision.effect is Effect.ALLOW  # the last good set still decides
    assert decision.policy_fingerprint == good
    assert engine.last_error is not None
    assert f"{shell_file}:{line_of(shell_file, 'shell-allow-list')}" in engine.last_error
    [event] = seen
    assert event.active_fingerprint == good
    assert str(shell_file) in event.files
    assert str(shell_file) in event.problem

    # Unchanged files are not reloaded (or re-reported) on every decision.
    clock.advance(1)
    engine.decide(ls())
    assert len(seen) == 1


def test_good_edit_takes_effect(policies: Path) -> None:
    clock = FakeClock()
    engine = PolicyEngine(seeded_dir=policies, reload_interval=0, monotonic=clock)
    assert engine.active is not None
    first = engine.active.fingerprint
    replace_in(policies / "30-shell.cedar", '"ls", "pwd"', '"pwd"')
    clock.advance(1)
    decision = engine.decide(ls())
    assert (decision.effect, decision.policy_ids) == (Effect.REQUIRE_APPROVAL, ("shell-approval",))
    assert engine.active.fingerprint != first
    assert decision.policy_fingerprint == engine.active.fingerprint
    assert engine.last_error is None


def test_fixing_a_broken_edit_clears_the_error(policies: Path) -> None:
    clock = FakeClock()
    engine = PolicyEngine(seeded_dir=policies, reload_interval=0, monotonic=clock)
    target = policies / "10-cells.cedar"
    original = target.read_text(encoding="utf-8")
    replace_in(target, "max_severity == 2", "max_sev == 2")
    clock.advance(1)
    assert engine.decide(cell(Severity.MEDIUM)).effect is Effect.ALLOW  # old set
    assert engine.last_error is not None
    edit(target, original.replace("max_severity == 2", "max_severity == 99"))
    clock.advance(1)
    # The fixed edit is the active set now: medium cells no longer match any permit.
    assert engine.decide(cell(Severity.MEDIUM)).effect is Effect.DENY
    assert engine.last_error is None


def test_new_override_file_is_picked_up(policies: Path, overrides: Path) -> None:
    clock = FakeClock()
    engine = PolicyEngine(
        seeded_dir=policies, override_dir=overrides, reload_interval=0, monotonic=clock
    )
    assert engine.decide(ls()).effect is Effect.ALLOW
    edit(
        overrides / "no-ls.cedar",
        '@id("ws-no-ls")\n@reason("no")\nforbid (principal, action == Action::"shell.run", '
        'resource) when { context.command == "ls" };\n',
    )
    clock.advance(1)
    assert engine.decide(ls()).policy_ids == ("ws-no-ls",)
    (overrides / "no-ls.cedar").unlink()
    clock.advance(1)
    assert engine.decide(ls()).effect is Effect.ALLOW


def test_files_are_checked_at_most_once_per_reload_interval(policies: Path) -> None:
    clock = FakeClock()
    engine = PolicyEngine(seeded_dir=policies, reload_interval=5.0, monotonic=clock)
    assert engine.decide(ls()).effect is Effect.ALLOW  # checks now, next check due in 5 s
    replace_in(policies / "30-shell.cedar", '"ls", "pwd"', '"pwd"')
    clock.advance(4.9)
    assert engine.decide(ls()).effect is Effect.ALLOW  # not looked at yet
    clock.advance(0.1)
    assert engine.decide(ls()).effect is Effect.REQUIRE_APPROVAL


# ---------------------------------------------------------------------------- fail closed


def test_no_good_set_at_start_up_denies_everything_with_the_diagnosis(policies: Path) -> None:
    bus = EventBus()
    seen: list[PolicyReloadFailed] = []
    bus.subscribe(PolicyReloadFailed, seen.append)
    broken = policies / "20-files.cedar"
    replace_in(broken, "context.inside_workspace };", "context.inside };")
    engine = PolicyEngine(seeded_dir=policies, events=bus, reload_interval=0)
    assert engine.active is None
    for each in [cell(), ls(), action(ActionKind.SANDBOX_RUN, "job", sandbox_level=5)]:
        decision = engine.decide(each)
        assert decision.effect is Effect.DENY
        assert decision.policy_ids == ()
        assert "fail closed" in decision.reasons[0]
        assert f"{broken}:{line_of(broken, 'files-read-inside')}" in decision.errors[0]
        assert decision.policy_fingerprint is None
    [event] = seen
    assert event.active_fingerprint is None


def test_engine_recovers_once_the_files_are_fixed(policies: Path) -> None:
    clock = FakeClock()
    (policies / "grace.cedarschema").rename(policies / "schema.bak")
    engine = PolicyEngine(seeded_dir=policies, reload_interval=0, monotonic=clock)
    assert engine.decide(cell()).effect is Effect.DENY
    (policies / "schema.bak").rename(policies / "grace.cedarschema")
    clock.advance(1)
    assert engine.decide(cell()).effect is Effect.ALLOW


def test_evaluation_error_is_a_deny(engine: PolicyEngine) -> None:
    wrong_type = action(ActionKind.KNOWLEDGE_INGEST, "doc", facts={"trust_permille": "high"})
    decision = engine.decide(wrong_type)
    assert decision.effect is Effect.DENY
    assert decision.policy_ids == ()
    assert "could not decide" in decision.reasons[0]
    assert "knowledge-trusted" in decision.errors[0]
    # Even where the same error would sit beside a matching permit.
    approved = engine.decide(wrong_type, approved=True)
    assert approved.effect is Effect.DENY


def test_evaluation_error_in_one_policy_denies_an_otherwise_allowed_action(
    engine: PolicyEngine, root: Path
) -> None:
    facts = {**path_facts("data.csv", workspace=root), "in_grace_dir": "no"}
    decision = engine.decide(action(ActionKind.FILE_WRITE, "data.csv", facts=facts))
    assert decision.effect is Effect.DENY
    assert decision.errors
