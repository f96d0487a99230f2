"""Grace's default stance, row by row, through the seeded policies and the real fact builders.

Every test states the effect *and* which policies decided it: a right answer
for the wrong reason (another policy matching by accident) fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from grace_kernel.governance import (
    Action,
    ActionKind,
    Decision,
    Effect,
    PolicyEngine,
    Principal,
    Severity,
    command_facts,
    host_facts,
    package_facts,
    path_facts,
    trust_facts,
)
from tests.governance.conftest import ALICE, KERNEL, SERVICE, action, cell

RUNNER = Principal.runner("run-7", on_behalf_of="alice")


def check(
    decision: Decision,
    effect: Effect,
    policy_ids: tuple[str, ...],
    obligations: frozenset[str] = frozenset(),
) -> None:
    """The effect, the deciding policy ids (sorted, as the engine reports them) and obligations."""
    assert (decision.effect, decision.policy_ids, decision.obligations) == (
        effect,
        tuple(sorted(policy_ids)),
        obligations,
    ), decision.explain()
    assert decision.errors == ()


def file_action(
    kind: ActionKind, path: str | Path, root: Path, *, principal: Principal = ALICE
) -> Action:
    return action(kind, str(path), principal=principal, facts=path_facts(path, workspace=root))


def shell(command: str) -> Action:
    return action(ActionKind.SHELL_RUN, command, facts=command_facts(command))


def connect(host: str) -> Action:
    return action(ActionKind.NET_CONNECT, host, facts=host_facts(host))


def install(spec: str, *, index: str = "https://pypi.org/simple") -> Action:
    return action(ActionKind.PACKAGE_INSTALL, spec, facts=package_facts(spec, index=index))


def ingest(score: float) -> Action:
    return action(ActionKind.KNOWLEDGE_INGEST, f"doc-{score}", facts=trust_facts(score))


# ---------------------------------------------------------------------------- cells


@pytest.mark.parametrize("severity", [Severity.NONE, Severity.LOW])
def test_cell_without_findings_or_with_only_low_ones_runs(
    engine: PolicyEngine, severity: Severity
) -> None:
    check(engine.decide(cell(severity)), Effect.ALLOW, ("cell-clean",))


def test_cell_with_medium_finding_runs_and_notifies(engine: PolicyEngine) -> None:
    check(
        engine.decide(cell(Severity.MEDIUM)),
        Effect.ALLOW,
        ("cell-medium-notify",),
        frozenset({"notify"}),
    )


def test_cell_with_high_finding_waits_for_approval(engine: PolicyEngine) -> None:
    check(engine.decide(cell(Severity.HIGH)), Effect.REQUIRE_APPROVAL, ("cell-high-approval",))


def test_cell_with_critical_finding_is_refused(engine: PolicyEngine) -> None:
    check(engine.decide(cell(Severity.CRITICAL)), Effect.DENY, ("cell-critical-deny",))


# ---------------------------------------------------------------------------- files


@pytest.mark.parametrize("principal", [ALICE, KERNEL, RUNNER, SERVICE])
def test_reading_inside_the_workspace_is_allowed(
    engine: PolicyEngine, root: Path, principal: Principal
) -> None:
    paths: list[str | Path] = ["data/results.csv", root / "notes.md", ".", ".grace/grace.db"]
    for path in paths:
        decision = engine.decide(file_action(ActionKind.FILE_READ, path, root, principal=principal))
        check(decision, Effect.ALLOW, ("files-read-inside",))


@pytest.mark.parametrize("kind", [ActionKind.FILE_WRITE, ActionKind.FILE_DELETE])
@pytest.mark.parametrize("principal", [ALICE, KERNEL, RUNNER, SERVICE])
def test_writing_inside_the_workspace_is_allowed_to_everyone(
    engine: PolicyEngine, root: Path, kind: ActionKind, principal: Principal
) -> None:
    decision = engine.decide(file_action(kind, "data/out.csv", root, principal=principal))
    check(decision, Effect.ALLOW, ("files-write-inside",))


def test_reading_outside_the_workspace_waits_for_approval(engine: PolicyEngine, root: Path) -> None:
    decision = engine.decide(file_action(ActionKind.FILE_READ, "/etc/hostname", root))
    check(decision, Effect.REQUIRE_APPROVAL, ("files-read-outside-approval",))


@pytest.mark.parametrize("kind", [ActionKind.FILE_WRITE, ActionKind.FILE_DELETE])
@pytest.mark.parametrize(
    "path", ["../escaped.txt", "data/../../escaped.txt", "/etc/cron.d/evil", "/tmp/x"]
)
def test_writing_outside_the_workspace_is_refused(
    engine: PolicyEngine, root: Path, kind: ActionKind, path: str
) -> None:
    facts = path_facts(path, workspace=root)
    assert facts["inside_workspace"] is False
    assert Path(facts["path"]).is_absolute()  # shown resolved, not as the caller spelled it
    decision = engine.decide(action(kind, path, facts=facts))
    check(decision, Effect.DENY, ("files-write-outside-deny",))


def test_service_cannot_write_outside_the_workspace_either(
    engine: PolicyEngine, root: Path
) -> None:
    decision = engine.decide(file_action(ActionKind.FILE_WRITE, "../x", root, principal=SERVICE))
    check(decision, Effect.DENY, ("files-write-outside-deny",))


def test_symlink_inside_the_workspace_pointing_outside_is_outside(
    engine: PolicyEngine, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "innocent").symlink_to(outside, target_is_directory=True)
    facts = path_facts("innocent/payload.sh", workspace=root)
    assert facts == {
        "path": str(outside.resolve() / "payload.sh"),
        "inside_workspace": False,
        "in_grace_dir": False,
    }
    decision = engine.decide(action(ActionKind.FILE_WRITE, "innocent/payload.sh", facts=facts))
    check(decision, Effect.DENY, ("files-write-outside-deny",))


@pytest.mark.parametrize("principal", [ALICE, KERNEL, RUNNER])
def test_symlink_into_grace_dir_cannot_be_written_through(
    engine: PolicyEngine, root: Path, principal: Principal
) -> None:
    (root / "keys-link").symlink_to(root / ".grace", target_is_directory=True)
    facts = path_facts("keys-link/keys/stolen.pem", workspace=root)
    assert facts == {
        "path": ".grace/keys/stolen.pem",
        "inside_workspace": True,
        "in_grace_dir": True,
    }
    decision = engine.decide(
        action(ActionKind.FILE_WRITE, "keys-link/keys/stolen.pem", principal=principal, facts=facts)
    )
    check(decision, Effect.DENY, ("files-grace-dir-service-only",))


@pytest.mark.parametrize("kind", [ActionKind.FILE_WRITE, ActionKind.FILE_DELETE])
@pytest.mark.parametrize("principal", [ALICE, KERNEL, RUNNER])
@pytest.mark.parametrize("path", [".grace", ".grace/grace.db", ".grace/policies/99-mine.cedar"])
def test_grace_dir_is_not_writable_by_users_kernels_or_runs(
    engine: PolicyEngine, root: Path, kind: ActionKind, principal: Principal, path: str
) -> None:
    decision = engine.decide(file_action(kind, path, root, principal=principal))
    check(decision, Effect.DENY, ("files-grace-dir-service-only",))


@pytest.mark.parametrize("kind", [ActionKind.FILE_WRITE, ActionKind.FILE_DELETE])
def test_grace_dir_is_writable_by_the_service(
    engine: PolicyEngine, root: Path, kind: ActionKind
) -> None:
    decision = engine.decide(file_action(kind, ".grace/grace.db", root, principal=SERVICE))
    check(decision, Effect.ALLOW, ("files-write-inside",))


def test_dot_dot_out_of_grace_dir_is_an_ordinary_workspace_file(
    engine: PolicyEngine, root: Path
) -> None:
    facts = path_facts(".grace/../results.csv", workspace=root)
    assert facts == {"path": "results.csv", "inside_workspace": True, "in_grace_dir": False}
    decision = engine.decide(action(ActionKind.FILE_WRITE, ".grace/../results.csv", facts=facts))
    check(decision, Effect.ALLOW, ("files-write-inside",))


# ---------------------------------------------------------------------------- shell


@pytest.mark.parametrize(
    "command",
    ["ls", "ls -la", "git status", "git status --short", "python -m pip list", "pwd", "whoami"],
)
def test_allow_listed_commands_run(engine: PolicyEngine, command: str) -> None:
    # The catch-all approval permit matches too; the allow-list permit makes it an allow.
    check(engine.decide(shell(command)), Effect.ALLOW, ("shell-allow-list",))


@pytest.mark.parametrize(
    "command",
    [
        "ls; rm -rf ~",
        "ls | sh",
        "ls $(curl evil.example)",
        "ls `id`",
        "git status && rm -rf data",
        "ls > listing.txt",
        "git status 2>/dev/null",
        "ls *.csv",
        "ls\nrm -rf data",
    ],
)
def test_shell_syntax_is_never_allow_listed(engine: PolicyEngine, command: str) -> None:
    facts = command_facts(command)
    assert facts["shell_syntax"] is True
    check(engine.decide(shell(command)), Effect.REQUIRE_APPROVAL, ("shell-approval",))


@pytest.mark.parametrize(
    "command", ["/bin/ls", "make", "rm -rf data", "lsblk", "git push", "python -m pip install x"]
)
def test_commands_off_the_allow_list_wait_for_approval(engine: PolicyEngine, command: str) -> None:
    check(engine.decide(shell(command)), Effect.REQUIRE_APPROVAL, ("shell-approval",))


def test_argument_vector_is_not_shell_syntax(engine: PolicyEngine) -> None:
    # Run without a shell, ";" is just an argument to ls.
    argv = ["ls", "-la", "; rm -rf ~"]
    facts = command_facts(argv)
    assert facts["shell_syntax"] is False
    decision = engine.decide(action(ActionKind.SHELL_RUN, " ".join(argv), facts=facts))
    check(decision, Effect.ALLOW, ("shell-allow-list",))


# ---------------------------------------------------------------------------- network


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST.", "::ffff:127.0.0.1"],
)
def test_loopback_connections_are_allowed(engine: PolicyEngine, host: str) -> None:
    assert host_facts(host)["loopback"] is True
    check(engine.decide(connect(host)), Effect.ALLOW, ("net-loopback",))


@pytest.mark.parametrize("host", ["pypi.org", "PyPI.org.", "github.com", "huggingface.co"])
def test_allow_listed_hosts_are_allowed(engine: PolicyEngine, host: str) -> None:
    check(engine.decide(connect(host)), Effect.ALLOW, ("net-allow-list",))


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1.evil.com",
        "localhost.evil.com",
        "pypi.org.evil.com",
        "example.com",
        "10.0.0.1",
        "0.0.0.0",  # noqa: S104  # a host under test, not a bind address
        "::ffff:10.0.0.1",
    ],
)
def test_other_hosts_wait_for_approval(engine: PolicyEngine, host: str) -> None:
    assert host_facts(host)["loopback"] is False
    check(engine.decide(connect(host)), Effect.REQUIRE_APPROVAL, ("net-approval",))


# ---------------------------------------------------------------------------- packages


@pytest.mark.parametrize(
    ("spec", "index"),
    [
        ("numpy==1.26.4", "https://pypi.org/simple"),
        ("numpy[dev]==1.26.4", "https://pypi.org/simple"),
        ("numpy===1.26.4", "https://pypi.org/simple"),
        ("numpy==1.26.4", "https://pypi.org/simple/"),
    ],
)
def test_pinned_install_from_the_configured_index_is_allowed(
    engine: PolicyEngine, spec: str, index: str
) -> None:
    decision = engine.decide(install(spec, index=index))
    check(decision, Effect.ALLOW, ("pkg-pinned-from-index",))


@pytest.mark.parametrize(
    ("spec", "source"),
    [
        ("numpy", "index"),
        ("numpy>=1", "index"),
        ("numpy==1.*", "index"),
        ("numpy~=1.26", "index"),
        ("numpy==1.26.4,<2", "index"),
        ("https://example.com/numpy-1.26.4.tar.gz", "url"),
        ("numpy @ https://example.com/numpy-1.26.4.tar.gz", "url"),
        ("git+https://github.com/numpy/numpy@v1.26.4", "vcs"),
        ("./dist/numpy-1.26.4-py3-none-any.whl", "path"),
        ("/srv/wheels/numpy-1.26.4-py3-none-any.whl", "path"),
    ],
)
def test_unpinned_url_vcs_and_path_installs_wait_for_approval(
    engine: PolicyEngine, spec: str, source: str
) -> None:
    facts = package_facts(spec)
    assert (facts["package_pinned"], facts["package_source"]) == (False, source)
    check(engine.decide(install(spec)), Effect.REQUIRE_APPROVAL, ("pkg-approval",))


@pytest.mark.parametrize(
    "index",
    ["https://evil.example/simple", "http://pypi.org/simple", "https://test.pypi.org/simple"],
)
def test_pinned_install_from_another_index_waits_for_approval(
    engine: PolicyEngine, index: str
) -> None:
    decision = engine.decide(install("numpy==1.26.4", index=index))
    check(decision, Effect.REQUIRE_APPROVAL, ("pkg-approval",))


# ---------------------------------------------------------------------------- knowledge


@pytest.mark.parametrize(
    ("score", "effect", "policy"),
    [
        (0.0, Effect.DENY, "knowledge-untrusted"),
        (0.399, Effect.DENY, "knowledge-untrusted"),
        (0.3999, Effect.DENY, "knowledge-untrusted"),
        (0.4, Effect.REQUIRE_APPROVAL, "knowledge-review"),
        (0.57, Effect.REQUIRE_APPROVAL, "knowledge-review"),
        (0.699, Effect.REQUIRE_APPROVAL, "knowledge-review"),
        (0.6999, Effect.REQUIRE_APPROVAL, "knowledge-review"),
        (0.7, Effect.ALLOW, "knowledge-trusted"),
        (1.0, Effect.ALLOW, "knowledge-trusted"),
    ],
)
def test_ingestion_follows_the_trust_score(
    engine: PolicyEngine, score: float, effect: Effect, policy: str
) -> None:
    check(engine.decide(ingest(score)), effect, (policy,))


# ---------------------------------------------------------------------------- approvals by kind


@pytest.mark.parametrize(
    ("kind", "policy"),
    [
        (ActionKind.MODEL_DEPLOY, "model-deploy-approval"),
        (ActionKind.CONFIG_CHANGE, "config-change-approval"),
        (ActionKind.FEDERATION_ACCEPT, "federation-accept-approval"),
    ],
)
@pytest.mark.parametrize("principal", [ALICE, KERNEL, SERVICE])
def test_deploy_config_and_federation_wait_for_approval(
    engine: PolicyEngine, kind: ActionKind, policy: str, principal: Principal
) -> None:
    decision = engine.decide(action(kind, "target", principal=principal))
    check(decision, Effect.REQUIRE_APPROVAL, (policy,))


# ---------------------------------------------------------------------------- secrets


def test_only_the_service_reads_secrets(engine: PolicyEngine) -> None:
    check(
        engine.decide(action(ActionKind.SECRET_READ, "openai", principal=SERVICE)),
        Effect.ALLOW,
        ("secret-service-only",),
    )
    for principal in (ALICE, KERNEL, RUNNER):
        decision = engine.decide(action(ActionKind.SECRET_READ, "openai", principal=principal))
        check(decision, Effect.DENY, ("secret-others-deny",))
        approved = engine.decide(
            action(ActionKind.SECRET_READ, "openai", principal=principal), approved=True
        )
        check(approved, Effect.DENY, ("secret-others-deny",))


# ---------------------------------------------------------------------------- safe mode


def test_safe_mode_still_allows_reads(engine: PolicyEngine, root: Path) -> None:
    decision = engine.decide(file_action(ActionKind.FILE_READ, "data.csv", root), mode="safe")
    check(decision, Effect.ALLOW, ("files-read-inside",))


@pytest.mark.parametrize("kind", [ActionKind.FILE_WRITE, ActionKind.FILE_DELETE])
@pytest.mark.parametrize("principal", [ALICE, KERNEL, SERVICE])
def test_safe_mode_refuses_workspace_writes(
    engine: PolicyEngine, root: Path, kind: ActionKind, principal: Principal
) -> None:
    decision = engine.decide(file_action(kind, "data.csv", root, principal=principal), mode="safe")
    check(decision, Effect.DENY, ("mode-safe-no-writes",))


def test_safe_mode_lets_the_service_keep_its_own_records(engine: PolicyEngine, root: Path) -> None:
    decision = engine.decide(
        file_action(ActionKind.FILE_WRITE, ".grace/grace.db", root, principal=SERVICE), mode="safe"
    )
    check(decision, Effect.ALLOW, ("files-write-inside",))


@pytest.mark.parametrize(
    ("make", "policy"),
    [
        (lambda: shell("ls"), "mode-safe-no-shell"),
        (lambda: connect("127.0.0.1"), "mode-safe-no-network"),
        (lambda: connect("pypi.org"), "mode-safe-no-network"),
        (lambda: install("numpy==1.26.4"), "mode-safe-no-install"),
        (lambda: action(ActionKind.MODEL_DEPLOY, "m"), "mode-safe-no-deploy"),
        (lambda: action(ActionKind.MODEL_TRAIN, "m"), "mode-safe-no-deploy"),
        (lambda: ingest(0.95), "mode-safe-no-deploy"),
        (lambda: action(ActionKind.FEDERATION_ACCEPT, "peer"), "mode-safe-no-deploy"),
    ],
    ids=["shell", "loopback", "allow-listed-host", "install", "deploy", "train", "ingest", "fed"],
)
def test_safe_mode_refuses_shell_network_installs_and_deploys(
    engine: PolicyEngine, make: Callable[[], Action], policy: str
) -> None:
    built = make()
    check(engine.decide(built, mode="safe"), Effect.DENY, (policy,))
    # An approval does not get past safe mode either.
    check(engine.decide(built, mode="safe", approved=True), Effect.DENY, (policy,))


@pytest.mark.parametrize("severity", [Severity.NONE, Severity.LOW])
def test_safe_mode_runs_clean_cells_read_only(engine: PolicyEngine, severity: Severity) -> None:
    check(
        engine.decide(cell(severity), mode="safe"),
        Effect.ALLOW,
        ("cell-clean", "mode-safe-cells-read-only"),
        frozenset({"read_only"}),
    )


def test_safe_mode_runs_medium_cells_read_only_too(engine: PolicyEngine) -> None:
    check(
        engine.decide(cell(Severity.MEDIUM), mode="safe"),
        Effect.ALLOW,
        ("cell-medium-notify", "mode-safe-cells-read-only"),
        frozenset({"notify", "read_only"}),
    )


def test_safe_mode_high_cell_waits_and_once_approved_runs_read_only(
    engine: PolicyEngine,
) -> None:
    high = cell(Severity.HIGH)
    check(engine.decide(high, mode="safe"), Effect.REQUIRE_APPROVAL, ("cell-high-approval",))
    check(
        engine.decide(high, mode="safe", approved=True),
        Effect.ALLOW,
        ("mode-safe-cells-read-only",),
        frozenset({"read_only"}),
    )


# ---------------------------------------------------------------------------- lockdown


def _one_of_each(root: Path) -> list[Action]:
    """One ordinarily-allowed (or approvable) action of every kind (plus writes by the service)."""
    return [
        cell(),
        file_action(ActionKind.FILE_READ, "data.csv", root),
        file_action(ActionKind.FILE_WRITE, "data.csv", root),
        file_action(ActionKind.FILE_DELETE, "data.csv", root),
        file_action(ActionKind.FILE_WRITE, ".grace/grace.db", root, principal=SERVICE),
        file_action(ActionKind.FILE_QUARANTINE, "data.csv", root),
        file_action(ActionKind.FILE_RESTORE, "data.csv", root),
        shell("ls"),
        connect("127.0.0.1"),
        install("numpy==1.26.4"),
        ingest(0.99),
        action(ActionKind.KNOWLEDGE_FORGET, "notes.md"),
        action(ActionKind.MODEL_TRAIN, "m"),
        action(ActionKind.MODEL_DEPLOY, "m"),
        action(ActionKind.SECRET_READ, "token", principal=SERVICE),
        action(ActionKind.API_CALL, "https://api.example/v1", principal=SERVICE),
        action(ActionKind.CONFIG_CHANGE, "checkpoint_every"),
        action(ActionKind.FEDERATION_ACCEPT, "peer"),
        action(ActionKind.SANDBOX_RUN, "job", sandbox_level=5),
    ]


def test_lockdown_refuses_every_kind_of_action(engine: PolicyEngine, root: Path) -> None:
    actions = _one_of_each(root)
    assert {a.kind for a in actions} == set(ActionKind)
    for each in actions:
        assert engine.decide(each).effect is not Effect.DENY, each  # allowed normally...
        check(engine.decide(each, mode="lockdown"), Effect.DENY, ("mode-lockdown",))
        check(engine.decide(each, mode="lockdown", approved=True), Effect.DENY, ("mode-lockdown",))


@pytest.mark.parametrize("principal", [ALICE, KERNEL, SERVICE])
def test_lockdown_still_lets_anyone_read_grace_status(
    engine: PolicyEngine, root: Path, principal: Principal
) -> None:
    for path in [".grace", ".grace/status.json"]:
        decision = engine.decide(
            file_action(ActionKind.FILE_READ, path, root, principal=principal), mode="lockdown"
        )
        check(decision, Effect.ALLOW, ("files-read-inside",))


def test_lockdown_read_through_symlink_into_grace_is_allowed_but_not_out_of_it(
    engine: PolicyEngine, root: Path
) -> None:
    (root / "status-link").symlink_to(root / ".grace", target_is_directory=True)
    via_link = file_action(ActionKind.FILE_READ, "status-link/x", root)
    check(engine.decide(via_link, mode="lockdown"), Effect.ALLOW, ("files-read-inside",))
    escaped = file_action(ActionKind.FILE_READ, ".grace/../data.csv", root)
    check(engine.decide(escaped, mode="lockdown"), Effect.DENY, ("mode-lockdown",))


# ---------------------------------------------------------------------------- sandbox


@pytest.mark.parametrize("level", [0, 1])
def test_sandbox_run_below_isolation_level_two_is_refused(engine: PolicyEngine, level: int) -> None:
    decision = engine.decide(action(ActionKind.SANDBOX_RUN, "job", sandbox_level=level))
    check(decision, Effect.DENY, ("sandbox-minimum-isolation",))
    assert "seccomp" in decision.reasons[0]
    assert "isolation level 2" in decision.reasons[0]


@pytest.mark.parametrize("level", [2, 5])
def test_sandbox_run_with_enough_isolation_runs_in_the_sandbox(
    engine: PolicyEngine, level: int
) -> None:
    decision = engine.decide(action(ActionKind.SANDBOX_RUN, "job", sandbox_level=level))
    check(decision, Effect.ALLOW, ("sandbox-run",), frozenset({"sandbox"}))


# ---------------------------------------------------------------------------- approved = true


def test_approval_turns_require_approval_into_allow(engine: PolicyEngine, root: Path) -> None:
    waiting = [
        (cell(Severity.HIGH), "cell-high-approval"),
        (shell("make"), "shell-approval"),
        (connect("example.com"), "net-approval"),
        (install("numpy"), "pkg-approval"),
        (ingest(0.5), "knowledge-review"),
        (action(ActionKind.MODEL_DEPLOY, "m"), "model-deploy-approval"),
        (file_action(ActionKind.FILE_READ, "/etc/hostname", root), "files-read-outside-approval"),
    ]
    for each, policy in waiting:
        check(engine.decide(each), Effect.REQUIRE_APPROVAL, (policy,))
        approved = engine.decide(each, approved=True)
        check(approved, Effect.ALLOW, (policy,))
        assert approved.reasons[-1] == "approved by a person"


def test_approval_never_overrides_a_forbid(engine: PolicyEngine, root: Path) -> None:
    check(
        engine.decide(cell(Severity.CRITICAL), approved=True), Effect.DENY, ("cell-critical-deny",)
    )
    check(
        engine.decide(cell(Severity.HIGH), mode="lockdown", approved=True),
        Effect.DENY,
        ("mode-lockdown",),
    )
    check(engine.decide(ingest(0.2), approved=True), Effect.DENY, ("knowledge-untrusted",))
    check(
        engine.decide(file_action(ActionKind.FILE_WRITE, "../x", root), approved=True),
        Effect.DENY,
        ("files-write-outside-deny",),
    )
    check(
        engine.decide(file_action(ActionKind.FILE_WRITE, ".grace/keys/k.pem", root), approved=True),
        Effect.DENY,
        ("files-grace-dir-service-only",),
    )
    check(
        engine.decide(action(ActionKind.SANDBOX_RUN, "job"), approved=True),
        Effect.DENY,
        ("sandbox-minimum-isolation",),
    )


def test_facts_cannot_smuggle_in_approval_or_mode(engine: PolicyEngine) -> None:
    # Only the engine's arguments set approved and mode; a fact of the same name is overwritten.
    smuggled = action(
        ActionKind.CELL_EXECUTE,
        "cell",
        severity=Severity.HIGH,
        facts={"approved": True, "mode": "normal"},
    )
    check(engine.decide(smuggled), Effect.REQUIRE_APPROVAL, ("cell-high-approval",))
    check(engine.decide(smuggled, mode="lockdown"), Effect.DENY, ("mode-lockdown",))


def test_degraded_mode_keeps_the_normal_stance(engine: PolicyEngine) -> None:
    # "degraded" has no policies of its own: the normal stance applies, forbids included.
    check(engine.decide(cell(), mode="degraded"), Effect.ALLOW, ("cell-clean",))
    check(
        engine.decide(cell(Severity.CRITICAL), mode="degraded"),
        Effect.DENY,
        ("cell-critical-deny",),
    )


def test_decision_explains_itself(engine: PolicyEngine) -> None:
    text = engine.decide(cell(Severity.HIGH)).explain()
    assert text.startswith("require_approval: cell.execute on cell-high")
    assert "cell-high-approval: a high-severity finding needs a human's approval" in text


def test_path_facts_reports_workspace_relative_paths(root: Path) -> None:
    assert path_facts(root / "a" / "b.txt", workspace=root)["path"] == "a/b.txt"
    assert path_facts(".", workspace=root) == {
        "path": ".",
        "inside_workspace": True,
        "in_grace_dir": False,
    }
    assert Path(path_facts("/", workspace=root)["path"]).is_absolute()


def test_odd_characters_in_names_do_not_break_the_decision(
    engine: PolicyEngine, root: Path
) -> None:
    # A newline or quote in a path, command or principal id is data, not Cedar syntax.
    odd = file_action(
        ActionKind.FILE_WRITE, 'data/new\nline "q".csv', root, principal=Principal.user('o"\nx')
    )
    check(engine.decide(odd), Effect.ALLOW, ("files-write-inside",))
    check(engine.decide(shell("ls\tdata")), Effect.ALLOW, ("shell-allow-list",))


@pytest.mark.parametrize(
    "command",
    [
        "git log --output=/tmp/owned",
        "git log -o /tmp/owned",
        "git -c core.pager=sh log",
        "git log --ext-diff",
        "git log --exec-path=/tmp",
        "git diff",
        "git show HEAD",
    ],
)
def test_git_forms_that_write_or_run_programs_need_approval(
    engine: PolicyEngine, command: str
) -> None:
    check(engine.decide(shell(command)), Effect.REQUIRE_APPROVAL, ("shell-approval",))


@pytest.mark.parametrize("host", ["evil.localhost", "localhost.evil.com", "127.0.0.1.evil.com"])
def test_only_localhost_itself_counts_as_loopback(engine: PolicyEngine, host: str) -> None:
    check(engine.decide(connect(host)), Effect.REQUIRE_APPROVAL, ("net-approval",))
