"""The sandbox runner on this machine's real layers: probe, limits, clean-up, languages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grace_kernel.errors import InputError
from grace_kernel.sandbox import (
    LAYERS,
    IsolationReport,
    Limits,
    SandboxError,
    SandboxSpec,
    probe,
    run,
)
from grace_kernel.sandbox._cgroup import find_hierarchy, sweep
from grace_kernel.sandbox._langs import language
from grace_kernel.sandbox._run import elf_interpreter


def python_spec(code: str, **options: object) -> SandboxSpec:
    lang = language("python")
    fields: dict[str, object] = {
        "argv": lang.argv("main.py"),
        "files": {"main.py": code.encode()},
        "execute": lang.execute,
        "bind": lang.bind,
    }
    fields.update(options)
    return SandboxSpec(**fields)  # type: ignore[arg-type]


def test_the_probe_checks_every_layer_and_explains_each(report: IsolationReport) -> None:
    assert [layer.name for layer in report.layers] == list(LAYERS)
    for layer in report.layers:
        assert layer.detail, layer
    assert report.layer("process").active
    assert 0 < report.probe_ms < 5000
    assert probe() is probe()  # cached for the process
    doc = report.to_json()
    assert doc["level"] == report.level
    assert len(doc["layers"]) == len(LAYERS)


def test_a_run_reports_output_exit_usage_and_files(report: IsolationReport) -> None:
    code = (
        "import os, sys\n"
        "print('out', os.getuid())\n"
        "print('err', file=sys.stderr)\n"
        "open('result.txt', 'w').write('done')\n"
        "sys.exit(3)\n"
    )
    result = run(python_spec(code), report)
    assert result.exit_code == 3
    assert result.signal is None
    assert not result.timed_out
    uid = report.uid if report.uid is not None else os.getuid()
    assert result.stdout == f"out {uid}\n"
    assert result.stderr == "err\n"
    assert [f.path for f in result.files] == ["result.txt"]
    assert result.files[0].size == 4
    assert result.usage["wall_s"] > 0
    assert "cpu_user_s" in result.usage
    assert result.level == report.level
    assert result.layers == tuple(layer.name for layer in report.layers if layer.active)


def test_the_environment_is_scrubbed_and_the_directory_private(
    report: IsolationReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "AKIA-not-for-the-sandbox")
    code = (
        "import json, os\n"
        "print(json.dumps({'env': dict(os.environ), 'cwd': os.getcwd(),"
        " 'mode': oct(os.stat('.').st_mode & 0o777)}))\n"
    )
    result = run(python_spec(code, env={"EXTRA": "1"}), report)
    doc = json.loads(result.stdout)
    assert "AWS_SECRET_ACCESS_KEY" not in doc["env"]
    assert not any(name.startswith("GRACE_HOME") for name in doc["env"])
    assert doc["env"]["EXTRA"] == "1"
    assert doc["env"]["HOME"] == doc["cwd"] == doc["env"]["TMPDIR"]
    assert not Path(doc["cwd"]).exists()  # removed after the run


def test_a_timeout_kills_the_whole_group_including_detached_children(
    report: IsolationReport,
) -> None:
    code = (
        "import os, subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import os, time; os.setsid(); time.sleep(60)'])\n"
        "time.sleep(60)\n"
    )
    lang = language("python")
    started = time.monotonic()
    result = run(python_spec(code, limits=Limits(timeout=1.0), execute=(*lang.execute,)), report)
    assert time.monotonic() - started < 15
    assert result.timed_out
    assert not result.ok
    assert any("wall-clock timeout" in reason for reason in result.stopped_by)
    if report.cgroups is not None:
        leftovers = [p for p in report.cgroups.parents.values() if any(p.glob("run-*"))]
        assert leftovers == []


def test_links_to_inputs_are_readable_but_never_collected(
    report: IsolationReport, tmp_path: Path
) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n")
    tmp_path.chmod(0o755)
    code = (
        "import os\n"
        "print(open('data.csv').read().strip())\n"
        "os.symlink('/etc/passwd', 'stolen')\n"
        "try:\n    open('data.csv', 'w')\nexcept OSError as e:\n    print('refused', e.errno)\n"
    )
    result = run(python_spec(code, links={"data.csv": data}, inputs=(data,)), report)
    assert result.stdout.splitlines()[0] == "a,b"
    assert "refused" in result.stdout or not report.uid  # read-only for the sandbox user
    assert result.files == ()  # symlinks (the planted one too) are never output
    assert data.read_text() == "a,b\n"


def test_output_beyond_the_capture_limit_is_counted_not_kept(report: IsolationReport) -> None:
    code = "import sys\nsys.stdout.write('x' * 100_000)\n"
    result = run(python_spec(code, limits=Limits(output_bytes=1024)), report)
    assert result.ok
    assert result.truncated
    assert len(result.stdout) == 1024


def test_stdin_reaches_the_program(report: IsolationReport) -> None:
    result = run(python_spec("print(input()[::-1])", stdin=b"grace\n"), report)
    assert result.stdout == "ecarg\n"


def test_bash_runs_and_node_runs_or_is_reported_missing(
    report: IsolationReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    bash = language("bash")
    result = run(
        SandboxSpec(
            argv=bash.argv("main.sh"),
            files={"main.sh": b"echo $((6 * 7)); id -u"},
            execute=bash.execute,
        ),
        report,
    )
    assert result.stdout.split()[0] == "42", result
    if shutil.which("node"):
        node = language("node")
        result = run(
            SandboxSpec(
                argv=node.argv("main.js"),
                files={"main.js": b"console.log(6 * 7)"},
                execute=node.execute,
                bind=node.bind,
            ),
            report,
        )
        assert result.stdout == "42\n", result
    monkeypatch.setattr(shutil, "which", lambda *_args, **_kwargs: None)
    with pytest.raises(SandboxError, match="node is not installed"):
        language("node")


def test_a_layer_that_cannot_be_applied_stops_the_launch_with_a_hint(
    report: IsolationReport, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-python"
    spec = SandboxSpec(argv=(str(missing), "main.py"), files={"main.py": b"print(1)"})
    with pytest.raises(SandboxError, match="could not start") as caught:
        run(spec, report)
    assert caught.value.hint


def test_bad_specs_are_refused_before_anything_runs() -> None:
    with pytest.raises(InputError, match="absolute path"):
        SandboxSpec(argv=("python3", "x.py"))
    with pytest.raises(InputError, match="--net"):
        SandboxSpec(argv=(sys.executable,), net="everything")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="plain name"):
        SandboxSpec(argv=(sys.executable,), files={"../escape.py": b""})
    with pytest.raises(InputError, match="memory_bytes"):
        Limits(memory_bytes=1)
    with pytest.raises(InputError, match="must be a number"):
        Limits(timeout=True)


def test_loopback_networking_needs_the_namespace_layer(report: IsolationReport) -> None:
    spec = python_spec("print(1)", net="loopback", level=3)
    with pytest.raises(SandboxError, match="bubblewrap"):
        run(spec, report)
    if report.active("bubblewrap"):
        code = (
            "import socket\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
            "c = socket.create_connection(s.getsockname()); print('private loopback ok')\n"
        )
        result = run(python_spec(code, net="loopback"), report)
        assert result.stdout == "private loopback ok\n", result


def test_elf_interpreter_names_the_loader() -> None:
    loader = elf_interpreter(Path(os.path.realpath(sys.executable)))
    assert loader is not None
    assert "ld-" in loader.name
    assert elf_interpreter(Path(__file__)) is None


def test_groups_of_a_crashed_run_are_swept(report: IsolationReport) -> None:
    if report.cgroups is None:
        pytest.skip("no writable cgroups here")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [parent / f"run-{dead.pid}-deadbeef" for parent in report.cgroups.parents.values()]
    for path in stale:
        path.mkdir()
    live = [parent / f"run-{os.getpid()}-cafe" for parent in report.cgroups.parents.values()]
    for path in live:
        path.mkdir()
    try:
        for parent in report.cgroups.parents.values():
            assert sweep(parent) == 1
        assert not any(path.exists() for path in stale)
        assert all(path.exists() for path in live)  # its process still runs
    finally:
        for path in (*stale, *live):
            if path.exists():
                path.rmdir()


def test_no_control_group_is_left_behind() -> None:
    hierarchy, why = find_hierarchy()
    if hierarchy is None:
        pytest.skip(why)
    for parent in hierarchy.parents.values():
        assert not [p for p in parent.iterdir() if p.is_dir()], parent
