"""The runtime guard: a PEP 578 audit hook that enforces, while code runs, what scanning missed.

Grace decides before a cell runs (Hunter scan + Cedar policy) whether it may
run.  Code can still do what the scan could not see: ``getattr(os, 'sys' +
'tem')``, a payload decoded at run time, a thread or an event-loop callback
that outlives its cell.  The guard is an audit hook (``sys.addaudithook``):
the interpreter reports its own operations to it (``open``, ``os.system``,
``socket.connect``, ``ctypes.dlopen``, ...) and the guard refuses, with a
``PermissionError``, what the policy refuses.

It is defence in depth, **not a sandbox**.  Python code can reach the guard's
own objects (closure cells, the frames of a refused call), and native code
never raises audit events; docs/guard.md lists the limits.  The boundary is
OS-level isolation (the sandbox issue).

Why the code has the shape it has:

- Everything the hook uses is bound inside :func:`_build` at install time
  (functions, builtins, tables, state), so patching ``os.path.realpath``,
  ``threading``, ``builtins`` or this module afterwards changes nothing the
  hook does.  No hook or mutable state lives in a module global.
- The hook's first statement is a frozenset membership test: imports raise
  ``open``/``import``/``exec``/``marshal.loads`` events all the time.
- A user object's Python methods never run inside the hook (a user
  ``__fspath__`` would run with the guard switched off): arguments are read
  only when their type is exact (``str``, ``bytes``, ``tuple``, an unpatched
  ``pathlib`` path, ``os.DirEntry``); anything else is refused.
- Any failure of the guard's own logic refuses the operation (fail closed).
"""

from __future__ import annotations

import _socket
import _thread
import builtins
import collections
import contextlib
import dataclasses
import errno
import hashlib
import importlib
import os
import pathlib
import posix
import re
import stat
import sys
import threading
import time
import types
import urllib.parse
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["GuardBlock", "GuardConfig", "GuardHandle", "Verdict", "install_guard"]

# Raised by install_guard; an installed guard answers it, so "already installed"
# is read from the hook itself rather than from state kept in this module.
_PROBE_EVENT = "grace.guard.probe"

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """A policy answer for the guard: allowed or not, which policy decided, and why."""

    allowed: bool
    policy_id: str
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class GuardBlock:
    """One refused operation: what was attempted, on what, and which policy refused it."""

    event: str
    target: str
    policy_id: str
    reason: str
    thread: str
    at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "target": self.target,
            "policy_id": self.policy_id,
            "reason": self.reason,
            "thread": self.thread,
            "at": self.at,
        }


@dataclasses.dataclass(frozen=True)
class GuardConfig:
    """What the guard protects and whom it asks.

    ``decide(kind, resource)`` is consulted with ``kind`` one of
    ``file.write``, ``file.delete``, ``net.connect``, ``shell.run``.  It and
    ``scan_dynamic`` run *restricted*: they may read files and import modules,
    but a process, a connection, native code or a write outside the
    workspace, ``grace_dir`` and ``writable`` is refused inside them.
    ``on_block`` runs once per refused operation, restricted the same way
    (Grace records the block; it needs nothing more).
    """

    workspace: Path
    grace_dir: Path
    writable: tuple[Path, ...] = ()
    _: dataclasses.KW_ONLY
    decide: Callable[[str, str], Verdict]
    scan_dynamic: Callable[[str], Verdict] | None = None
    on_block: Callable[[GuardBlock], None] | None = None


class _Ops(NamedTuple):
    set_obligations: Callable[[frozenset[str]], None]
    trusted: Callable[[], AbstractContextManager[None]]
    drain: Callable[[], list[GuardBlock]]
    in_user_code: Callable[[], bool]


class GuardHandle:
    """What Grace's own code keeps after :func:`install_guard`.

    Every method refuses (``PermissionError``) when user code is on the
    calling stack, so a cell that finds the handle cannot switch the guard
    off through it.  Use ``trusted()`` exactly as ``with handle.trusted():``
    (possibly through a wrapper that returns it): the section is tied to the
    frame that entered it and ends for any code that is not running under
    that frame.
    """

    __slots__ = ("_ops",)

    def __init__(self, ops: _Ops) -> None:
        self._ops = ops

    def set_obligations(self, obligations: frozenset[str]) -> None:
        """The current cell's obligations, e.g. ``{"read_only"}`` (replaces the previous set)."""
        self._ops.set_obligations(obligations)

    def trusted(self) -> AbstractContextManager[None]:
        """A section in which this thread runs unguarded (Grace's own gate code)."""
        return self._ops.trusted()

    def drain_blocks(self) -> list[GuardBlock]:
        """Blocks recorded since the last drain, oldest first (the last 1000 at most)."""
        return self._ops.drain()

    def in_user_code(self) -> bool:
        """Whether a frame of user code (a cell, code it compiled) is on the calling stack."""
        return self._ops.in_user_code()


def install_guard(config: GuardConfig) -> GuardHandle:
    """Arm the guard in this process and return its handle.

    Once per process: audit hooks cannot be removed, so a second call raises
    ``RuntimeError`` rather than stacking a second guard on the first.
    """
    answered: list[bool] = []
    sys.audit(_PROBE_EVENT, answered)
    if answered:
        raise RuntimeError("the Grace runtime guard is already installed in this process")
    if not isinstance(config, GuardConfig) or not callable(config.decide):
        raise TypeError("install_guard needs a GuardConfig with a decide callable")
    # Loaded before arming, so their import-time native work (ctypes dlopens libffi
    # and builds pythonapi) never happens as events inside a guarded cell, and so
    # cffi's backend is always there to be gated (cryptography loads it anyway).
    importlib.import_module("ctypes")
    with contextlib.suppress(ImportError):
        importlib.import_module("_cffi_backend")
    hook, ops, gates = _build(config)
    sys.addaudithook(hook)
    _route_through_gates(gates)
    for name in _SUBINTERPRETER_MODULES:
        # A later import raises the "import" event the guard refuses.
        sys.modules.pop(name, None)
    return GuardHandle(ops)


_SUBINTERPRETER_MODULES = frozenset(
    {
        "_xxsubinterpreters",
        "_interpreters",
        "_xxinterpchannels",
        "_interpchannels",
        "_xxinterpqueues",
        "_interpqueues",
    }
)


def _route_through_gates(gates: dict[str, dict[str, Callable[..., Any]]]) -> None:
    """Replace native modules whose functions raise no audit event by gated copies.

    ``_posixsubprocess.fork_exec`` starts a process and cffi's
    ``load_library`` opens native code, silently.  Each module in
    ``sys.modules`` (and the references ``subprocess`` and
    ``multiprocessing.util`` hold) becomes a copy whose gated functions
    refuse in guarded code; everything else is the original.
    """
    for module_name, replacements in gates.items():
        real = sys.modules[module_name]
        proxy = types.ModuleType(module_name, real.__doc__)
        proxy.__dict__.update(vars(real))
        proxy.__dict__.update(replacements)
        sys.modules[module_name] = proxy
        for holder_name in ("subprocess", "multiprocessing.util"):
            holder = sys.modules.get(holder_name)
            if holder is not None and getattr(holder, module_name, None) is real:
                setattr(holder, module_name, proxy)
    fork_exec = gates["_posixsubprocess"]["fork_exec"]
    subprocess_module = sys.modules.get("subprocess")
    if subprocess_module is not None and hasattr(subprocess_module, "_fork_exec"):
        subprocess_module._fork_exec = fork_exec  # type: ignore[attr-defined]  # 3.11's binding


_Found = tuple[str, str, str]  # (target, policy id, reason) of an operation to refuse
_Hook = Callable[[str, tuple[Any, ...]], None]


def _build(config: GuardConfig) -> tuple[_Hook, _Ops, dict[str, dict[str, Callable[..., Any]]]]:
    """Make the hook, the handle's operations and the gated native functions as closures.

    Everything below refers only to names bound in this function, for the
    reason given in the module docstring.
    """
    # -- builtins and library functions, bound now ------------------------------------
    type_ = builtins.type
    unquote = urllib.parse.unquote
    parse_qsl = urllib.parse.parse_qsl
    len_ = builtins.len
    str_ = builtins.str
    bytes_ = builtins.bytes
    bytearray_ = builtins.bytearray
    int_ = builtins.int
    dict_ = builtins.dict
    range_ = builtins.range
    issubclass_ = builtins.issubclass
    repr_ = builtins.repr
    frozenset_ = builtins.frozenset
    list_ = builtins.list
    tuple_ = builtins.tuple
    any_ = builtins.any
    exception_ = builtins.Exception
    os_error = builtins.OSError
    permission_error = builtins.PermissionError
    unicode_error = builtins.UnicodeError
    attribute_error = builtins.AttributeError
    str_str = builtins.str.__str__  # an exact copy of a str subclass, without its methods
    bytes_bytes = builtins.bytes.__bytes__
    code_type = types.CodeType
    suppress = contextlib.suppress
    deque = collections.deque
    lstat = posix.lstat
    stat_ = posix.stat
    readlink = posix.readlink
    getcwd = posix.getcwd
    listdir = posix.listdir
    access = posix.access
    environ_now = posix.environ
    is_link = stat.S_ISLNK
    is_dir = stat.S_ISDIR
    getframe = sys._getframe
    get_ident = _thread.get_ident
    get_native_id = _thread.get_native_id
    # The label of a block: read from threading's own table with the real ident, so
    # patching threading.get_ident or current_thread cannot relabel blocks.
    running_threads: dict[int, threading.Thread] = getattr(threading, "_active", {})
    wall_clock = time.time
    monotonic = time.monotonic
    sha256 = hashlib.sha256
    real_getaddrinfo = _socket.getaddrinfo
    inet_pton = _socket.inet_pton
    socket_type = _socket.socket
    socket_family = _socket.socket.__dict__["family"].__get__
    af_inet, af_inet6, af_unix = _socket.AF_INET, _socket.AF_INET6, _socket.AF_UNIX
    real_fork_exec = importlib.import_module("_posixsubprocess").fork_exec
    cffi_backend = sys.modules.get("_cffi_backend")
    unsafe_shell_char = re.compile(r"[^\w@%+=:,./-]", re.ASCII).search
    dir_entry = os.DirEntry
    dir_entry_fspath = os.DirEntry.__fspath__
    os_environ = os.environ
    pure_path, posix_path, pure_posix_path = (
        pathlib.PurePath,
        pathlib.PosixPath,
        pathlib.PurePosixPath,
    )
    path_fspath, path_str = pathlib.PurePath.__fspath__, pathlib.PurePath.__str__
    path_slots = {n: pathlib.PurePath.__dict__[n] for n in ("_drv", "_root", "_parts", "_str")}
    type_mro = type.__dict__["__mro__"].__get__
    type_name = type.__dict__["__name__"].__get__  # no metaclass property can answer
    verdict_type = Verdict
    verdict_fields = [Verdict.__dict__[n].__get__ for n in ("allowed", "policy_id", "reason")]
    thread_dict = threading.Thread.__dict__["__dict__"].__get__
    type_dict = type.__dict__["__dict__"].__get__
    fs_encoding = sys.getfilesystemencoding()
    block_record = GuardBlock
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    eloop = errno.ELOOP
    open_fd = posix.open
    close_fd = posix.close
    # O_PATH resolves without opening for I/O (a FIFO cannot block it); Linux only.
    o_path = getattr(os, "O_PATH", 0) if Path("/proc/self/fd").is_dir() else 0
    o_nofollow = os.O_NOFOLLOW
    o_path |= os.O_CLOEXEC if o_path else 0
    x_ok = os.X_OK
    probe_event = _PROBE_EVENT

    decide = config.decide
    scan_dynamic = config.scan_dynamic
    on_block = config.on_block

    restricted, full = 1, 2  # ThreadState.busy while the guard itself is working

    # -- paths --------------------------------------------------------------------------
    def resolve(path: str, base: str | None = None, follow: bool = True) -> str:
        """Absolute and symlink-free (like ``realpath``, non-strict), from captured syscalls.

        With ``follow=False`` the last component is kept as it is: removing or
        renaming a symlink acts on the link, not on what it points to.  An
        existing path is resolved by the kernel itself (``O_PATH`` and
        ``/proc/self/fd``: three syscalls); anything else, component by component.
        """
        if not path.startswith("/"):
            path = (getcwd() if base is None else base) + "/" + path
        if o_path:
            try:
                fd = open_fd(path, o_path | (0 if follow else o_nofollow))
            except os_error:
                return walk(path, follow)
            try:
                found = readlink(f"/proc/self/fd/{fd}")
            except os_error:
                found = ""
            finally:
                close_fd(fd)
            if found.startswith("/") and not found.endswith(" (deleted)"):
                return found
        return walk(path, follow)

    def walk(path: str, follow: bool) -> str:
        pending = path.split("/")
        pending.reverse()
        done = ""
        hops = 0
        while pending:
            name = pending.pop()
            if name in ("", "."):
                continue
            if name == "..":
                done = done[: done.rfind("/")] if done else ""
                continue
            candidate = done + "/" + name
            if not pending and not follow:
                done = candidate
                break
            try:
                mode = lstat(candidate).st_mode
            except os_error:  # missing (a file about to be created) or unreadable
                done = candidate
                continue
            if not is_link(mode):
                done = candidate
                continue
            hops += 1
            if hops > 40:
                raise os_error(eloop, "too many levels of symbolic links", path)
            target = readlink(candidate)
            if target.startswith("/"):
                done = ""
            parts = target.split("/")
            parts.reverse()
            pending.extend(parts)
        return done or "/"

    def roots(paths: Iterable[str]) -> tuple[tuple[str, ...], frozenset[str]]:
        exact = frozenset_(p.rstrip("/") or "/" for p in paths)
        return tuple_(p if p.endswith("/") else p + "/" for p in exact), exact

    def under(path: str, where: tuple[tuple[str, ...], frozenset[str]]) -> bool:
        return path.startswith(where[0]) or path in where[1]

    def real(path: Path | str) -> str:
        return resolve(os.fspath(path))

    workspace = roots([real(config.workspace)])
    grace_real = real(config.grace_dir)
    grace = roots([grace_real])
    # What code may never read: the signing keys (later also the secrets vault).  The
    # rest of .grace (ledger, alerts, policies, witness) is readable -- the magics read it
    # through SQLite mode=ro URIs -- but never writable.
    grace_secrets = roots([grace_real + "/keys", grace_real + "/vault"])
    writable = roots(real(p) for p in config.writable)
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    library = roots([*prefixes, *(real(p) for p in prefixes), real(_PACKAGE_DIR)])
    raw_library_prefixes = library[0]
    # Reads from these do not taint a thread (rule 7); programs in the user-writable
    # part (not the Python installation) are refused (they are anything a cell wrote).
    safe_reads = roots([*workspace[1], *writable[1], *library[1]])
    user_writable = roots([*workspace[1], *writable[1]])

    def is_library_file(filename: str) -> bool:
        if filename.startswith("<frozen "):
            return True
        return "/.." not in filename and filename.startswith(raw_library_prefixes)

    def touches_grace(path: str, kind: str) -> bool:
        """In .grace, or (for a delete or rename) a directory that contains it."""
        if under(path, grace):
            return True
        return kind == "file.delete" and grace_real.startswith(path.rstrip("/") + "/")

    class Uninspectable(Exception):
        """An argument the guard cannot read without running its owner's code."""

    def raw_attr(cls: type, name: str) -> Any:
        """``cls.name`` by walking the class dicts, so no descriptor code runs."""
        for klass in type_mro(cls):
            found = type_dict(klass).get(name, Uninspectable)
            if found is not Uninspectable:
                return found
        return None

    def pathlib_text(path: Any) -> str:
        cls = type_(path)
        if (
            raw_attr(cls, "__fspath__") is not path_fspath
            or raw_attr(cls, "__str__") is not path_str
        ):
            raise Uninspectable(f"a {type_name(cls)} whose path methods were replaced")
        try:
            cached = path_slots["_str"].__get__(path, pure_path)
        except attribute_error:
            cached = None
        if cached is not None:
            if type_(cached) is not str_:
                raise Uninspectable("a path with a corrupted cache")
            return str_str(cached)
        drv = path_slots["_drv"].__get__(path, pure_path)
        root = path_slots["_root"].__get__(path, pure_path)
        parts = path_slots["_parts"].__get__(path, pure_path)
        if type_(drv) is not str_ or type_(root) is not str_ or type_(parts) is not list_:
            raise Uninspectable("a path with corrupted parts")
        for part in parts:
            if type_(part) is not str_:
                raise Uninspectable("a path with corrupted parts")
        text = (drv + root + "/".join(parts[1:]) if drv or root else "/".join(parts)) or "."
        # pathlib's own __str__ now returns exactly this when the call converts the path.
        path_slots["_str"].__set__(path, text)
        return text

    def as_text(value: Any) -> str:
        """A str, bytes or path-like argument as str, without running user methods."""
        cls = type_(value)
        if issubclass_(cls, str_):
            return str_str(value)  # the value itself when exact, else a plain copy
        if issubclass_(cls, bytes_):
            return bytes_bytes(value).decode(fs_encoding, "surrogateescape")
        if cls is dir_entry:
            if raw_attr(cls, "__fspath__") is not dir_entry_fspath:
                raise Uninspectable("an os.DirEntry whose __fspath__ was replaced")
            return as_text(dir_entry_fspath(value))
        if cls is posix_path or cls is pure_posix_path:
            return pathlib_text(value)
        raise Uninspectable(f"an argument of type {type_name(cls)}")

    def fd_target(fd: int) -> str | None:
        """The path an open file descriptor refers to, if it is a file (Linux /proc)."""
        try:
            target = readlink(f"/proc/self/fd/{fd}")
        except os_error:
            return None
        return target if target.startswith("/") else None

    def directory_bases() -> list[str]:
        """cwd and every open directory descriptor: where a relative ``os.open`` may land.

        The "open" event of ``os.open`` does not carry ``dir_fd``, so a relative
        path is checked against each directory it could be relative to.
        """
        bases = [getcwd()]
        try:
            fds = listdir("/proc/self/fd")
        except os_error:
            return bases
        for name in fds:
            target = fd_target(int_(name))
            if target is None or target.startswith("/proc/") or target in bases:
                continue
            with suppress(os_error):
                if is_dir(stat_(target).st_mode):
                    bases.append(target)
        return bases

    def base_of(dir_fd: Any) -> str | None:
        if type_(dir_fd) is not int_ or dir_fd < 0:
            return None
        target = fd_target(dir_fd)
        if target is None:
            raise Uninspectable(f"a directory descriptor ({dir_fd}) that is not a directory")
        return target

    # -- per-thread state ------------------------------------------------------------------
    main_ident = threading.main_thread().ident
    infra_threads = {
        t.ident: t.native_id
        for t in threading.enumerate()
        if t.ident is not None and t.ident != main_ident
    }

    class ThreadState(_thread._local):
        """Created in each thread on its first audited event (``threading.local``)."""

        def __init__(self) -> None:
            native = infra_threads.get(get_ident())
            # The native id guards against a new thread reusing an infra thread's ident.
            self.infra = native is not None and native == get_native_id()
            self.busy = 0
            self.entries: list[types.FrameType] = []  # frames that entered trusted sections
            self.taint = False  # read a file from outside the workspace (rule 7)
            self.popen_frame: types.FrameType | None = None  # a just-allowed Popen's frame
            self.cell = ""  # the source of the cell running on this thread
            self.notifying = False  # inside on_block: further blocks are recorded only

    state = ThreadState()

    # A user frame runs code from a file registered here, or (for the shared pseudo
    # file names below, which namedtuple and dataclasses use too) a code object
    # registered itself.
    user_files: set[str] = set()
    user_codes: set[types.CodeType] = set()
    generic_files = frozenset_({"<string>", "<unknown>"})
    obligations: list[frozenset[str]] = [frozenset_()]
    ring: collections.deque[GuardBlock] = deque(maxlen=1000)
    verdicts: dict[tuple[str, str], tuple[float, tuple[bool, str, str]]] = {}
    scans: dict[bytes, tuple[bool, str, str]] = {}
    known_addresses: dict[str, None] = {}  # resolved from an allowed host name
    install_env = dict_(environ_now)

    # -- user code ------------------------------------------------------------------------
    def is_user(frame: types.FrameType) -> bool:
        code = frame.f_code
        filename = code.co_filename
        return filename in user_files or (filename in generic_files and code in user_codes)

    def user_on_stack(frame: types.FrameType | None) -> bool:
        while frame is not None:
            if is_user(frame):
                return True
            frame = frame.f_back
        return False

    def user_between(frame: types.FrameType | None, stop: types.CodeType) -> bool:
        """A user frame between ``frame`` and the nearest frame running ``stop``."""
        while frame is not None and frame.f_code is not stop:
            if is_user(frame):
                return True
            frame = frame.f_back
        return False

    def nearest(frame: types.FrameType | None) -> str:
        """What comes first walking up from ``frame``: "user", "import" or "none"."""
        while frame is not None:
            if is_user(frame):
                return "user"
            if frame.f_code.co_filename.startswith("<frozen importlib"):
                return "import"
            frame = frame.f_back
        return "none"

    def library_work(filename: str, origin: types.FrameType | None) -> bool:
        """Library code compiled or run by library code (an import): not user code."""
        return (
            is_library_file(filename)
            and origin is not None
            and is_library_file(origin.f_code.co_filename)
        )

    def register(filename: str, origin: types.FrameType | None) -> None:
        if filename not in generic_files and not library_work(filename, origin):
            user_files.add(filename)

    def register_code(code: types.CodeType, origin: types.FrameType | None) -> None:
        """The code's file is user code; for a pseudo file name, the code objects are."""
        if library_work(code.co_filename, origin):
            return
        if code.co_filename in generic_files and nearest(origin) == "import":
            return  # e.g. a namedtuple a library module builds while it is imported
        if len_(user_codes) >= 10_000:
            # Too many to remember one by one: every frame of such code counts as
            # user code from now on (stricter, never looser).
            user_files.update(generic_files)
            user_codes.clear()
        todo = [code]
        while todo:
            current = todo.pop()
            if current.co_filename in generic_files and current.co_filename not in user_files:
                user_codes.add(current)
            else:
                user_files.add(current.co_filename)
            for const in current.co_consts:
                if type_(const) is code_type:
                    todo.append(const)

    def trusted_here(st: ThreadState, frame: types.FrameType | None) -> bool:
        """Inside a trusted section: its entry frame is on the stack, no user frame first."""
        entries = st.entries
        while frame is not None:
            for entry in entries:
                if frame is entry:
                    return True
            if is_user(frame):
                return False
            frame = frame.f_back
        return False

    # -- policy --------------------------------------------------------------------------
    def read_verdict(verdict: Any) -> tuple[bool, str, str]:
        """Its fields through Verdict's own slots: a patched class attribute cannot answer."""
        if type_(verdict) is not verdict_type:
            return (False, "guard-error", "the policy check did not return a Verdict")
        allowed, policy_id, reason = (read(verdict) for read in verdict_fields)
        if type_(policy_id) is not str_ or type_(reason) is not str_:
            return (False, "guard-error", "the policy check returned a malformed Verdict")
        return (allowed is True, policy_id, reason)

    def ask(kind: str, resource: str, st: ThreadState) -> tuple[bool, str, str]:
        """``decide`` (restricted, cached for a few seconds so policy edits apply quickly)."""
        key = (kind, resource)
        now = monotonic()
        hit = verdicts.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        st.busy = restricted
        try:
            verdict = decide(kind, resource)
        except exception_ as exc:
            return (False, "guard-error", f"the policy check failed ({type_name(type_(exc))})")
        finally:
            st.busy = full
        result = read_verdict(verdict)
        if len_(verdicts) >= 4096:
            verdicts.clear()
        verdicts[key] = (now + 5.0, result)
        return result

    def ask_scan(
        scanner: Callable[[str], Verdict], source: str, st: ThreadState
    ) -> tuple[bool, str, str]:
        digest = sha256(source.encode("utf-8", "surrogatepass")).digest()
        hit = scans.get(digest)
        if hit is not None:
            return hit
        st.busy = restricted
        try:
            verdict = scanner(source)
        except exception_ as exc:
            return (False, "guard-error", f"the dynamic-code scan failed ({type_name(type_(exc))})")
        finally:
            st.busy = full
        result = read_verdict(verdict)
        if len_(scans) >= 4096:
            scans.clear()
        scans[digest] = result
        return result

    # -- files ---------------------------------------------------------------------------
    def check_write(
        kind: str, raw: str, base: str | None, follow: bool, st: ThreadState, infra: bool
    ) -> _Found | None:
        path = resolve(raw, base, follow)
        if touches_grace(path, kind):
            return (path, "guard-grace-dir", ".grace/ (keys, ledger, policies) is Grace's own")
        if infra:
            return None
        if "read_only" in obligations[0]:
            return (path, "mode-safe-cells-read-only", "safe mode: this cell may not write")
        if under(path, library):
            return (path, "guard-python-install", "the Python installation and Grace are read-only")
        if "/.git/" in path + "/":
            return (path, "guard-git-dir", ".git/ configures programs git runs (hooks, fsmonitor)")
        if under(path, writable):
            return None
        allowed, policy_id, reason = ask(kind, path, st)
        if not allowed:
            return (path, policy_id, reason)
        if not under(path, workspace):
            return (path, "guard-outside-workspace", "writing or deleting outside the workspace")
        return None

    def check_read(raw: str, base: str | None, st: ThreadState, infra: bool) -> _Found | None:
        full_path = raw if raw.startswith("/") else (getcwd() if base is None else base) + "/" + raw
        if "/.." not in full_path and full_path.startswith(raw_library_prefixes):
            return None  # imports: a string test, no syscalls
        path = resolve(full_path)
        if under(path, grace_secrets):
            return (
                path,
                "guard-grace-dir",
                "Grace's signing keys are never readable from a kernel",
            )
        if not (infra or st.taint or under(path, safe_reads)):
            # Kernel state and the cells' own source (tracebacks read it) are not data.
            st.taint = not (path.startswith(("/proc/", "/sys/")) or path in user_files)
        return None

    def on_open(args: tuple[Any, ...], st: ThreadState, infra: bool) -> _Found | None:
        target, mode, flags = args[0], args[1], args[2]
        if type_(target) is int_:
            # An fd was checked when it was opened -- unless Grace opened it (its ledger).
            path = fd_target(target)
            if path is not None and under(path, grace):
                return (path, "guard-grace-dir", ".grace/ (keys, ledger, policies) is Grace's own")
            return None
        raw = as_text(target)
        write = type_(flags) is int_ and flags & write_flags != 0
        if type_(mode) is str_:
            write = write or any_(c in mode for c in "wax+")
        # os.open (mode None) with a relative path may be relative to any dir_fd.
        bases: list[str | None] = [None]
        if mode is None and not raw.startswith("/"):
            bases = list_(directory_bases())
        for base in bases:
            found = (
                check_write("file.write", raw, base, True, st, infra)
                if write
                else check_read(raw, base, st, infra)
            )
            if found is not None:
                return found
        return None

    # event -> ((kind, index of the path, index of its dir_fd or -1, follow a last symlink), ...)
    file_operations: dict[str, tuple[tuple[str, int, int, bool], ...]] = {
        "os.remove": (("file.delete", 0, 1, False),),
        "os.rmdir": (("file.delete", 0, 1, False),),
        "os.rename": (("file.delete", 0, 2, False), ("file.write", 1, 3, False)),
        "os.truncate": (("file.write", 0, -1, True),),
        "os.mkdir": (("file.write", 0, 2, False),),
        "os.symlink": (("file.write", 1, 2, False),),
        # A hard link makes its source writable under a new name: check both.
        "os.link": (("file.write", 1, 3, False), ("file.write", 0, 2, True)),
        "os.chmod": (("file.write", 0, 2, True),),
        "os.chown": (("file.write", 0, 3, True),),
        "os.utime": (("file.write", 0, 3, True),),
        "os.setxattr": (("file.write", 0, -1, True),),
        "os.removexattr": (("file.write", 0, -1, True),),
        "shutil.rmtree": (("file.delete", 0, 1, False),),
        "shutil.copyfile": (("file.write", 1, -1, True),),
        "shutil.copymode": (("file.write", 1, -1, True),),
        "shutil.copystat": (("file.write", 1, -1, True),),
        "shutil.copytree": (("file.write", 1, -1, True),),
        "shutil.move": (("file.delete", 0, -1, False), ("file.write", 1, -1, True)),
        "shutil.chown": (("file.write", 0, -1, True),),
        "shutil.make_archive": (("file.write", 0, -1, True),),
        "shutil.unpack_archive": (("file.write", 1, -1, True),),
    }

    def operation_paths(
        event: str, args: tuple[Any, ...]
    ) -> list[tuple[str, str, str | None, bool]]:
        """(kind, path, base directory, follow) for each path a file operation touches."""
        out: list[tuple[str, str, str | None, bool]] = []
        for kind, index, fd_index, follow in file_operations[event]:
            value = args[index]
            if value is None:  # shutil.unpack_archive's default extract_dir
                value = "."
            if type_(value) is int_:
                path = fd_target(value)
                if path is not None:
                    out.append((kind, path, None, follow))
                continue
            base = base_of(args[fd_index]) if fd_index >= 0 else None
            out.append((kind, as_text(value), base, follow))
        return out

    def on_file_operation(
        event: str, args: tuple[Any, ...], st: ThreadState, infra: bool
    ) -> _Found | None:
        for kind, raw, base, follow in operation_paths(event, args):
            found = check_write(kind, raw, base, follow, st, infra)
            if found is not None:
                return found
        if event == "os.symlink":  # a link into .grace would let reads walk around the check
            link = resolve(as_text(args[1]), base_of(args[2]), False)
            pointee = resolve(as_text(args[0]), link[: link.rfind("/")] or "/")
            if under(pointee, grace):
                return (pointee, "guard-grace-dir", "a link into .grace/ is refused")
        return None

    def on_sqlite(args: tuple[Any, ...], st: ThreadState, infra: bool) -> _Found | None:
        database = as_text(args[0])
        read_only = False
        if database.startswith("file:"):
            database, _, query = database[5:].partition("?")
            modes = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "mode"]
            if modes and all(m == "memory" for m in modes):
                return None
            read_only = bool(modes) and all(m == "ro" for m in modes)
            if database.startswith("//"):
                database = database[database.find("/", 2) :]
            database = unquote(database)  # SQLite decodes %XX in URI paths; so must we
        if database in ("", ":memory:"):
            return None
        if read_only:
            return check_read(database, None, st, infra)
        return check_write("file.write", database, None, True, st, infra)

    # -- network -------------------------------------------------------------------------
    def is_address(host: str) -> bool:
        for family in (af_inet, af_inet6):
            try:
                inet_pton(family, host.partition("%")[0])
            except (os_error, unicode_error):
                continue
            return True
        return False

    def host_text(host: Any) -> str:
        cls = type_(host)
        if cls is bytes_ or cls is bytearray_:
            return bytes_(host).decode("ascii", "replace")
        return as_text(host)

    def on_connect(args: tuple[Any, ...], st: ThreadState) -> _Found | None:
        sock, address = args[0], args[1]
        if address is None:  # sendmsg on a connected socket: its connect was checked
            return None
        if not issubclass_(type_(sock), socket_type):
            raise Uninspectable("not a socket")
        family = socket_family(sock)
        if family == af_unix:
            path = as_text(address)
            if path.startswith("\0") or not path:
                return ("unix:" + repr_(path), "guard-network", "abstract unix sockets are refused")
            resolved = resolve(path)
            if under(resolved, grace) or not under(resolved, user_writable):
                return (resolved, "guard-network", "unix sockets outside the workspace")
            return None
        if family != af_inet and family != af_inet6:
            return (f"family {family}", "guard-network", "only IP and unix sockets are allowed")
        if type_(address) is not tuple_ or len_(address) < 2:
            raise Uninspectable("an unusual socket address")
        host = host_text(address[0])
        port = address[1]
        target = f"{host}:{port if type_(port) is int_ else '?'}"
        if host in known_addresses:
            return None
        allowed, policy_id, reason = ask("net.connect", host, st)
        return None if allowed else (target, policy_id, reason)

    def on_resolve(args: tuple[Any, ...], st: ThreadState) -> _Found | None:
        if args[0] is None:
            return None
        host = host_text(args[0])
        if not host:
            return None
        allowed, policy_id, reason = ask("net.connect", host, st)
        if not allowed:
            return (host, policy_id, reason)
        if not is_address(host):
            # Resolve it here (busy, so this lookup passes) to know the addresses that
            # the connect following this lookup may use.
            with suppress(os_error, unicode_error):
                for info in real_getaddrinfo(host, None):
                    if len_(known_addresses) >= 4096:
                        known_addresses.clear()
                    known_addresses[str_(info[4][0])] = None
        return None

    # -- processes -----------------------------------------------------------------------
    shells = frozenset_({"sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish"})
    risky_env_prefixes = ("LD_", "GIT_", "PYTHON", "DYLD_")
    risky_env = frozenset_({"BASH_ENV", "ENV", "HOME", "XDG_CONFIG_HOME", "PAGER", "PATH"})

    def join_words(words: list[str]) -> str:
        quoted = []
        for word in words:
            if word and unsafe_shell_char(word) is None:
                quoted.append(word)
            else:
                quoted.append("'" + word.replace("'", "'\"'\"'") + "'")
        return " ".join(quoted)

    def first_word(command: str) -> str:
        words = command.split(None, 1)
        if not words:
            return ""
        return words[0].replace("'", "").replace('"', "").replace("\\", "")

    # Grace's own commands a magic hands work to: the sandbox runner (governs sandbox.run,
    # isolates what it runs) and the healer (restarts Grace's components, signs what it did).
    grace_python = real(sys.executable)
    grace_clis = (["sandbox", "run"], ["heal"])

    def is_grace_cli(program: str, argv: list[str], env: dict[str, str] | None) -> bool:
        """``python -I -m grace_kernel.cli sandbox run|heal ...``: this python, env unchanged."""
        if env is not None or program == "" or real(program) != grace_python:
            return False
        if argv[1:4] != ["-I", "-m", "grace_kernel.cli"]:
            return False
        return any(argv[4 : 4 + len(words)] == words for words in grace_clis)

    def argv_of(value: Any) -> list[str]:
        if type_(value) is str_ or type_(value) is bytes_:
            return [as_text(value)]
        if type_(value) is not list_ and type_(value) is not tuple_:
            raise Uninspectable("an unusual argument list")
        return [as_text(v) for v in value]

    def clean_env(env: Any) -> dict[str, str] | None:
        """A child's environment as plain strings; None when it inherits this process's."""
        if env is None or env is os_environ:
            return None
        if type_(env) is not dict_:
            raise Uninspectable("an unusual environment mapping")
        return {as_text(key): as_text(value) for key, value in dict_.items(env)}

    def env_problem(env: dict[str, str] | None) -> str | None:
        """A changed variable that steers what a child runs (LD_PRELOAD, PATH, GIT_*...)."""
        if env is None:
            return None
        for name, value in env.items():
            if not (name.startswith(risky_env_prefixes) or name in risky_env):
                continue
            before = install_env.get(name.encode(fs_encoding, "surrogateescape"))
            if before is not None and before.decode(fs_encoding, "surrogateescape") == value:
                continue
            if name == "PATH" and not path_problem(value):
                continue
            return name
        return None

    def path_problem(value: str) -> bool:
        """A PATH entry that is relative or that cells can write into."""
        for entry in value.split(":"):
            if not entry.startswith("/"):
                return True
            where = resolve(entry)
            if under(where, user_writable) and not under(where, library):
                return True
        return False

    def locate(program: str, cwd: str | None, env: dict[str, str] | None) -> str | None:
        """Where the child's program is, as the parent's PATH search would find it."""
        if not program:
            return None
        if "/" in program:
            return resolve(program, cwd)
        if env is not None and "PATH" in env:
            search = env["PATH"]
        else:
            search = environ_now.get(b"PATH", b"").decode(fs_encoding, "surrogateescape")
        for entry in search.split(":"):
            candidate = (entry or ".") + "/" + program
            if access(candidate, x_ok):
                return resolve(candidate, cwd)
        return None

    def on_process(
        event: str, args: tuple[Any, ...], st: ThreadState, origin: types.FrameType | None
    ) -> _Found | None:
        if event in ("os.fork", "os.forkpty"):
            return ("fork", "guard-fork", "forking the kernel process is refused")
        cwd: str | None = None
        env: dict[str, str] | None = None
        if event == "os.system":
            command = as_text(args[0])
            program = first_word(command)
        else:
            if event == "subprocess.Popen":
                program, argv, env = as_text(args[0]), argv_of(args[1]), clean_env(args[3])
                cwd = None if args[2] is None else resolve(as_text(args[2]))
            elif event in ("os.exec", "os.posix_spawn"):
                program, argv, env = as_text(args[0]), argv_of(args[1]), clean_env(args[2])
            elif event == "os.spawn":  # Windows only; listed so every process event is covered
                program, argv, env = as_text(args[1]), argv_of(args[2]), clean_env(args[3])
            elif event == "os.startfile":  # Windows only
                program = as_text(args[0])
                argv = [program]
            else:  # pty.spawn
                argv = argv_of(args[0])
                program = argv[0] if argv else ""
            if program.rsplit("/", 1)[-1] in shells and len_(argv) >= 3 and argv[1] == "-c":
                command = argv[2]
                program = first_word(command)
            else:
                command = join_words([program, *argv[1:]])
        changed = env_problem(env)
        if changed is not None:
            return (command, "guard-exec-env", f"a changed {changed} steers what the child runs")
        if event == "subprocess.Popen" and is_grace_cli(program, argv, env):
            st.popen_frame = origin
            return None
        where = locate(program, cwd, env)
        if where is not None and under(where, user_writable) and not under(where, library):
            return (command, "guard-exec-writable", "running a program that cells can write")
        allowed, policy_id, reason = ask("shell.run", command, st)
        if not allowed:
            return (command, policy_id, reason)
        if event == "subprocess.Popen":
            st.popen_frame = origin  # the frame that calls fork_exec next
        return None

    def on_putenv(args: tuple[Any, ...]) -> _Found | None:
        name, value = as_text(args[0]), as_text(args[1])
        risky = name.startswith(risky_env_prefixes) or name in risky_env
        if risky and (name != "PATH" or path_problem(value)):
            return (f"{name}={value}", "guard-exec-env", f"{name} steers what programs run")
        return None

    # -- native code, tampering, unpickling -------------------------------------------------
    tamper_modules = _SUBINTERPRETER_MODULES | {
        "_testcapi",
        "_testinternalcapi",
        "_posixsubprocess",
    }
    ffi_modules = frozenset_({"_ctypes", "_cffi_backend"})
    process_names = frozenset_(
        {
            "system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp", "startfile",
            "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe",
            "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp",
            "spawnvpe", "getoutput", "getstatusoutput", "fork_exec", "import_module",
            "__import__",
        }
    )  # fmt: skip
    process_modules = frozenset_(
        {"subprocess", "ctypes", "_ctypes", "_posixsubprocess", "pty", "cffi", "_cffi_backend"}
    )
    code_builtins = frozenset_({"eval", "exec", "compile", "breakpoint"})

    def dangerous_global(module: str, name: str) -> bool:
        parts = (module + "." + name).split(".")
        if parts[0] in process_modules:
            return True
        if parts[0] in ("builtins", "__builtin__") and parts[-1] in code_builtins:
            return True
        return any_(part in process_names for part in parts)

    def on_import(args: tuple[Any, ...]) -> _Found | None:
        name, filename = args[0], args[1]
        if type_(name) is not str_:
            return None
        if name in tamper_modules:
            return (name, "guard-tamper", f"importing {name} would reach around the guard")
        if name in ffi_modules:
            return (name, "guard-ctypes", "foreign-function interfaces run native code directly")
        if type_(filename) is str_ and not is_library_file(filename):
            return (filename, "guard-native", "native extension modules from outside the install")
        return None

    # -- dynamic code --------------------------------------------------------------------
    def on_compile(
        args: tuple[Any, ...], st: ThreadState, origin: types.FrameType | None
    ) -> _Found | None:
        source, filename = args[0], args[1]
        name = "" if filename is None else as_text(filename)  # None: compiling a syntax tree
        where = nearest(origin)
        if name:
            register(name, origin)
        if type_(source) is str_:
            text = source
        elif type_(source) is bytes_:
            text = source.decode("utf-8", "replace")
        else:  # a syntax tree: built by code, which compiled or parsed its pieces
            return None
        if where == "none" and name not in generic_files:
            # Nothing of the user's runs yet: IPython compiling a new cell.
            st.cell = text
            st.taint = False
            return None
        if where == "import" or scan_dynamic is None:
            return None
        stripped = text.strip()
        if not stripped or stripped in st.cell or repr_(stripped)[1:-1] in st.cell:
            return None  # the cell's own code (e.g. a %%time body): scanned with the cell
        allowed, policy_id, reason = ask_scan(scan_dynamic, text, st)
        return None if allowed else (stripped[:300], policy_id, reason)

    def on_marshal(
        event: str, args: tuple[Any, ...], st: ThreadState, origin: types.FrameType | None
    ) -> _Found | None:
        if origin is not None and origin.f_code.co_filename.startswith("<frozen importlib"):
            return None
        if st.taint:
            return ("marshal data", "guard-foreign-pickle", "data read from outside the workspace")
        if event == "marshal.loads" and origin is not None and is_user(origin):
            data = args[0]
            if type_(data) is bytes_ and data[:1] in (b"c", b"\xe3"):  # TYPE_CODE (| FLAG_REF)
                return ("code object", "guard-dynamic-code", "bytecode escapes the code scan")
        return None

    def on_find_class(args: tuple[Any, ...], st: ThreadState) -> _Found | None:
        module, name = as_text(args[0]), as_text(args[1])
        target = module + "." + name
        if st.taint:
            return (target, "guard-foreign-pickle", "data read from outside the workspace")
        if dangerous_global(module, name):
            return (target, "guard-pickle-global", "a pickle that names a process or code runner")
        return None

    # -- dispatch ------------------------------------------------------------------------
    ctypes_events = frozenset_(
        {
            "ctypes.addressof", "ctypes.call_function", "ctypes.cdata", "ctypes.cdata/buffer",
            "ctypes.create_string_buffer", "ctypes.create_unicode_buffer", "ctypes.dlopen",
            "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.get_errno", "ctypes.set_errno",
            "ctypes.get_last_error", "ctypes.set_last_error", "ctypes.seh_exception",
            "ctypes.set_exception", "ctypes.string_at", "ctypes.wstring_at",
            "ctypes.PyObj_FromPtr",
        }
    )  # fmt: skip
    tamper_events = frozenset_(
        {
            "gc.get_objects", "gc.get_referrers", "gc.get_referents",
            "cpython.PyInterpreterState_New", "sys._current_frames",
        }
    )  # fmt: skip
    net_connect_events = frozenset_({"socket.connect", "socket.sendto", "socket.sendmsg"})
    net_resolve_events = frozenset_(
        {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"}
    )
    process_events = frozenset_(
        {
            "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
            "pty.spawn", "os.fork", "os.forkpty", "os.startfile",
        }
    )  # fmt: skip
    native_events = frozenset_({"sqlite3.enable_load_extension", "sqlite3.load_extension"})
    file_events = frozenset_({"open", "sqlite3.connect", *file_operations})
    frame_events = frozenset_(
        {
            "compile", "exec", "function.__new__", "code.__new__", "marshal.loads",
            "marshal.load", "subprocess.Popen",
        }
    )  # fmt: skip
    # Inside decide()/scan_dynamic(): never needed there, always refused.
    refused_when_restricted = (
        ctypes_events | tamper_events | net_connect_events | net_resolve_events
    ) | (process_events | native_events | {"os.putenv"})
    interesting = (
        file_events
        | frame_events
        | refused_when_restricted
        | {"import", "object.__setattr__", "pickle.find_class", _PROBE_EVENT}
    )

    def check(
        event: str,
        args: tuple[Any, ...],
        st: ThreadState,
        origin: types.FrameType | None,
        infra: bool,
    ) -> _Found | None:
        if event == "open":
            return on_open(args, st, infra)
        if event in file_operations:
            return on_file_operation(event, args, st, infra)
        if event == "sqlite3.connect":
            return on_sqlite(args, st, infra)
        if event in ctypes_events:
            return (event, "guard-ctypes", "native calls through ctypes are refused in cells")
        if event in process_events:
            return on_process(event, args, st, origin)
        if event in net_connect_events:
            return on_connect(args, st)
        if event in net_resolve_events:
            return on_resolve(args, st)
        if event == "compile":
            return on_compile(args, st, origin)
        if event in ("exec", "function.__new__"):
            if type_(args[0]) is code_type:
                register_code(args[0], origin)
            return None
        if event == "code.__new__":
            register(as_text(args[1]), origin)
            return None
        if event in ("marshal.loads", "marshal.load"):
            return on_marshal(event, args, st, origin)
        if event == "pickle.find_class":
            return on_find_class(args, st)
        if event == "import":
            return on_import(args)
        if event in tamper_events:
            return (event, "guard-tamper", "this reaches into other code's objects or interpreters")
        if event == "object.__setattr__":
            if type_(args[1]) is str_ and args[1] == "__code__":
                return ("__code__", "guard-tamper", "rewriting a function's code is refused")
            return None
        if event == "os.putenv":
            return on_putenv(args)
        if event in native_events:
            if event == "sqlite3.enable_load_extension" and args[1] is not True:
                return None
            return (event, "guard-native", "SQLite extensions are native code")
        return None

    def check_restricted(event: str, args: tuple[Any, ...]) -> _Found | None:
        """A nested event while decide()/scan_dynamic() runs (see GuardConfig)."""
        if event in refused_when_restricted:
            return (event, "guard-error", f"the policy check itself tried {event}")
        if user_between(getframe(2), hook_code):  # 0: here, 1: hook, 2: the event's origin
            return (event, "guard-error", "user code ran inside the policy check")
        paths: list[tuple[str, str, str | None, bool]] = []
        if event in file_operations:
            paths = operation_paths(event, args)
        elif event == "open" and type_(args[0]) is not int_:
            flags = args[2]
            if (type_(flags) is int_ and flags & write_flags) or (
                type_(args[1]) is str_ and any_(c in args[1] for c in "wax+")
            ):
                paths = [("file.write", as_text(args[0]), None, True)]
        for _kind, raw, base, follow in paths:
            path = resolve(raw, base, follow)
            if not (under(path, grace) or under(path, user_writable)):
                return (path, "guard-error", "the policy check itself wrote outside the workspace")
        return None

    def thread_name() -> str:
        ident = get_ident()
        name = None
        with suppress(exception_):  # only a label: a corrupted table must not stop a refusal
            name = thread_dict(running_threads[ident]).get("_name")
        return str_str(name) if type_(name) is str_ else f"thread-{ident}"

    def refuse(st: ThreadState, event: str, found: _Found) -> PermissionError:
        target, policy_id, reason = found
        record = block_record(
            event=event,
            target=target[:300],
            policy_id=policy_id,
            reason=reason,
            thread=thread_name(),
            at=wall_clock(),
        )
        ring.append(record)
        if on_block is not None and not st.notifying:
            previous = st.busy
            st.busy, st.notifying = restricted, True
            try:
                with suppress(exception_):  # a broken notifier cannot undo the refusal
                    on_block(record)
            finally:
                st.busy, st.notifying = previous, False
        return permission_error(f"[grace guard] {reason} (policy {policy_id})")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        # Real events are exact str; a str subclass from sys.audit() could run __hash__.
        if type_(event) is not str_ or event not in interesting:
            return
        st = state
        busy = st.busy
        if busy:
            if busy == full:
                return
            try:
                found = check_restricted(event, args)
            except exception_ as exc:
                found = (event, "guard-error", f"the guard failed ({type_name(type_(exc))})")
            if found is not None:
                raise refuse(st, event, found)
            return
        if event == probe_event:
            if args and type_(args[0]) is list_:
                list_.append(args[0], True)
            return
        infra = st.infra
        if infra and event not in file_events:
            return
        origin = getframe(1) if event in frame_events or st.entries else None
        if st.entries and trusted_here(st, origin):
            return
        st.busy = full
        try:
            try:
                found = check(event, args, st, origin, infra)
            except Uninspectable as exc:
                found = (
                    event,
                    "guard-argument",
                    f"{exc} given to {event} cannot be checked safely",
                )
            except exception_ as exc:  # a Grace bug: refuse rather than let it through
                found = (event, "guard-error", f"the guard failed ({type_name(type_(exc))})")
            if found is not None:
                raise refuse(st, event, found)
        finally:
            st.busy = 0

    hook_code = hook.__code__

    # -- the handle's operations and the fork_exec gatekeeper ---------------------------------
    def refuse_from_user(frame: types.FrameType | None, what: str) -> None:
        if user_on_stack(frame):
            raise permission_error(f"[grace guard] user code may not {what} (policy guard-tamper)")

    class TrustedSection:
        """Runs this thread unguarded while the frame that entered it is on the stack."""

        __slots__ = ("_creator",)

        def __init__(self, creator: types.FrameType) -> None:
            self._creator = creator

        def __enter__(self) -> None:
            frame = getframe(1)
            # Entered by the frame that asked for it (or one of its callers), never by
            # a library frame handed the section as an object.
            ancestor: types.FrameType | None = self._creator
            while ancestor is not None and ancestor is not frame:
                ancestor = ancestor.f_back
            if ancestor is None:
                raise permission_error("[grace guard] enter a trusted section with `with`")
            refuse_from_user(frame, "enter a trusted section")
            state.entries.append(frame)

        def __exit__(self, *exc_info: object) -> None:
            entries = state.entries
            frame = getframe(1)
            for index in range_(len_(entries) - 1, -1, -1):
                if entries[index] is frame:
                    del entries[index]
                    return

    def trusted() -> AbstractContextManager[None]:
        caller = getframe(2)  # trusted <- GuardHandle.trusted <- the caller
        refuse_from_user(caller, "enter a trusted section")
        return TrustedSection(caller)

    def set_obligations(new: frozenset[str]) -> None:
        refuse_from_user(getframe(1), "change the cell's obligations")
        obligations[0] = frozenset_(o for o in new if type_(o) is str_)

    def drain() -> list[GuardBlock]:
        refuse_from_user(getframe(1), "drain the guard's record")
        out: list[GuardBlock] = []
        while ring:
            out.append(ring.popleft())
        return out

    def in_user_code() -> bool:
        return user_on_stack(getframe(1))

    def fork_exec(*args: Any) -> Any:
        st = state
        caller = getframe(1)
        if st.infra or st.busy == full or (st.entries and trusted_here(st, caller)):
            return real_fork_exec(*args)
        token, st.popen_frame = st.popen_frame, None
        if token is not None and token is caller:  # right after its allowed Popen event
            return real_fork_exec(*args)
        argv: Any = args[0] if args else None
        shown = "?"
        if type_(argv) is list_:
            shown = " ".join(a.decode(fs_encoding, "replace") for a in argv if type_(a) is bytes_)
        raise refuse(
            st,
            "_posixsubprocess.fork_exec",
            (shown, "guard-fork-exec", "starting a process around subprocess.Popen is refused"),
        )

    def gate(event: str, real: Callable[..., Any], reason: str) -> Callable[..., Any]:
        """``real``, refused in guarded code (it runs native code without an audit event)."""

        def gated(*args: Any, **kwargs: Any) -> Any:
            st = state
            if st.infra or st.busy == full or (st.entries and trusted_here(st, getframe(1))):
                return real(*args, **kwargs)
            target = args[0] if args else None
            shown = as_text(target) if type_(target) is str_ or type_(target) is bytes_ else "?"
            raise refuse(st, event, (shown, "guard-ctypes", reason))

        return gated

    gates = {"_posixsubprocess": {"fork_exec": fork_exec}}
    if cffi_backend is not None:
        gates["_cffi_backend"] = {
            "load_library": gate(
                "_cffi_backend.load_library",
                cffi_backend.load_library,
                "loading native libraries through cffi is refused in cells",
            )
        }
    ops = _Ops(
        set_obligations=set_obligations, trusted=trusted, drain=drain, in_user_code=in_user_code
    )
    return hook, ops, gates
