"""The sandbox's child side: apply the layers to this process, then exec the target.

Grace runs this file as a script (``python -I -S _launcher.py CONFIG``), never
imports it into the parent: it must start fast and must not depend on anything
outside the standard library, because it may run under a different interpreter
than Grace's own (the one the sandboxed code asked for).

The steps, in the only order that works::

    join cgroups (as root)  ->  chdir to the private directory  ->  setrlimit
    ->  drop to the sandbox uid/gid  ->  no_new_privs  ->  Landlock  ->  seccomp
    ->  execve(target)

CONFIG is a dict in ``marshal`` format, hex-encoded (see
``grace_kernel.sandbox._run``): the launcher runs under the interpreter that
wrote it, and ``marshal`` is built in where ``json`` would cost milliseconds
of imports on every launch.  Just before ``execve`` the launcher writes ``E``
to the status file descriptor; if any step fails it writes
``LAYER<tab>ERROR`` and exits 125 without running the target.  On success the
descriptor is closed by ``execve`` (it is close-on-exec).  ``--probe``
instead checks, in throw-away child processes, that seccomp and Landlock
really take effect on this machine and prints JSON.
"""

from __future__ import annotations

import ctypes
import errno
import marshal
import os
import resource
import struct
import sys
from collections.abc import Callable
from typing import Any

LAUNCH_FAILED = 125

# ----------------------------------------------------------------- libc / prctl

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_ulong = ctypes.c_ulong
_libc.prctl.argtypes = [ctypes.c_int, _ulong, _ulong, _ulong, _ulong]
PR_SET_NO_NEW_PRIVS = 38


def _oserror(what: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}")


def no_new_privs() -> None:
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _oserror("prctl(PR_SET_NO_NEW_PRIVS)")


# ----------------------------------------------------------------- Landlock

SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
_READ = FS_READ_FILE | FS_READ_DIR
_WRITE = (
    _READ
    | FS_WRITE_FILE
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SOCK
    | FS_MAKE_FIFO
    | FS_MAKE_SYM
    | FS_REFER
    | FS_TRUNCATE
)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is absent or disabled."""
    version = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, 1)
    return max(int(version), 0)


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _add_path_rule(ruleset: int, path: str, access: int, handled: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # an optional system path this machine does not have
    try:
        if not os.path.isdir(path):
            access &= _FILE_RIGHTS
        access &= handled
        if not access:
            return
        attr = struct.pack("=Qi", access, fd)  # landlock_path_beneath_attr is packed
        if _libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, 1, attr, 0) != 0:
            raise _oserror(f"landlock_add_rule({path})")
    finally:
        os.close(fd)


def apply_landlock(cfg: dict[str, Any]) -> int:
    """Restrict this process (and what it execs) to the configured paths and ports."""
    abi = landlock_abi()
    if abi < 1:
        raise OSError(errno.EOPNOTSUPP, "Landlock is not available in this kernel")
    handled = _fs_rights(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 and cfg.get("handle_net") else 0
    scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= 6 else 0
    if abi >= 6:
        attr = struct.pack("=QQQ", handled, net, scoped)
    elif abi >= 4:
        attr = struct.pack("=QQ", handled, net)
    else:
        attr = struct.pack("=Q", handled)
    ruleset = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, attr, len(attr), 0)
    if ruleset < 0:
        raise _oserror("landlock_create_ruleset")
    try:
        for path in cfg.get("read", ()):
            _add_path_rule(ruleset, path, _READ, handled)
        for path in cfg.get("execute", ()):
            _add_path_rule(ruleset, path, _READ | FS_EXECUTE, handled)
        for path in cfg.get("write", ()):
            _add_path_rule(ruleset, path, _WRITE | FS_IOCTL_DEV, handled)
        for port in cfg.get("connect_ports", ()) if net else ():
            rule = struct.pack("=QQ", NET_CONNECT_TCP, int(port))
            if _libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, 2, rule, 0) != 0:
                raise _oserror(f"landlock_add_rule(port {port})")
        no_new_privs()
        if _libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            raise _oserror("landlock_restrict_self")
    finally:
        os.close(ruleset)
    return abi


# ----------------------------------------------------------------- seccomp (libseccomp)

SCMP_ACT_ALLOW = 0x7FFF0000
AF_INET, AF_INET6, AF_PACKET = 2, 10, 17  # Linux values; importing socket costs ~4 ms
SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7
CLONE_THREAD = 0x00010000

# Always refused: debugging other processes, kernel modules, mounts and new
# namespaces, BPF, keyrings, io_uring (its operations bypass seccomp), clocks.
ALWAYS_DENIED = (
    *("ptrace", "process_vm_readv", "process_vm_writev", "kcmp"),
    *("mount", "umount2", "pivot_root", "move_mount", "open_tree", "mount_setattr"),
    *("fsopen", "fsmount", "fsconfig", "fspick"),
    *("init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load"),
    *("bpf", "perf_event_open", "userfaultfd", "unshare", "setns", "chroot"),
    *("keyctl", "add_key", "request_key", "reboot", "swapon", "swapoff", "acct"),
    *("quotactl", "syslog", "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm"),
    *("io_uring_setup", "io_uring_enter", "io_uring_register"),
    *("settimeofday", "clock_settime", "clock_adjtime", "adjtimex"),
)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _libseccomp(path: str | None) -> Any:
    lib = ctypes.CDLL(path or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def apply_seccomp(cfg: dict[str, Any]) -> None:
    """Load a filter that answers refused system calls with EPERM (the process lives on)."""
    lib = _libseccomp(cfg.get("library"))
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise OSError(errno.EINVAL, "seccomp_init failed")
    try:

        def rule(name: str, action: int, *cmps: _ArgCmp) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                return  # not a system call on this architecture
            array = (_ArgCmp * max(len(cmps), 1))(*cmps)
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), array)
            if rc < 0:
                raise OSError(-rc, f"seccomp_rule_add({name}): {os.strerror(-rc)}")

        deny = _act_errno(errno.EPERM)
        for name in ALWAYS_DENIED:
            rule(name, deny)
        if cfg.get("deny_inet"):
            for family in (AF_INET, AF_INET6, AF_PACKET):
                rule("socket", deny, _ArgCmp(0, SCMP_CMP_EQ, family, 0))
        if cfg.get("deny_fork"):
            rule("fork", deny)
            rule("vfork", deny)
            rule("clone", deny, _ArgCmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))
            rule("clone3", _act_errno(errno.ENOSYS))  # libc falls back to clone
        rc = lib.seccomp_load(ctx)  # also sets no_new_privs
        if rc < 0:
            raise OSError(-rc, f"seccomp_load: {os.strerror(-rc)}")
    finally:
        lib.seccomp_release(ctx)


# ----------------------------------------------------------------- the launch


def _join_cgroups(files: list[str]) -> None:
    for path in files:
        with open(path, "w") as handle:
            handle.write("0")  # 0: the writing process


def _set_limits(limits: dict[str, list[int]]) -> None:
    for name, value in limits.items():
        which = getattr(resource, name)
        soft, hard = value if isinstance(value, list) else (value, value)
        resource.setrlimit(which, (soft, hard))


def _drop_privileges(uid: int, gid: int) -> None:
    if os.getuid() != 0:
        return
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(errno.EPERM, "the uid did not change")


def _launch(
    cfg: dict[str, Any],
    report: Callable[[dict[str, str]], None],
    report_exec: Callable[[], object],
) -> None:
    steps: tuple[tuple[str, Callable[[], object]], ...] = (
        ("cgroups", lambda: _join_cgroups(cfg.get("cgroup_procs", ()))),
        ("process", lambda: os.chdir(cfg["cwd"])),
        ("process", lambda: _set_limits(cfg.get("rlimits", {}))),
        ("process", lambda: _drop_privileges(cfg["uid"], cfg["gid"]) if "uid" in cfg else None),
        ("process", no_new_privs),
        ("landlock", lambda: apply_landlock(cfg["landlock"]) if "landlock" in cfg else None),
        ("seccomp", lambda: apply_seccomp(cfg["seccomp"]) if "seccomp" in cfg else None),
    )
    for layer, step in steps:
        try:
            step()
        except OSError as exc:
            report({"layer": layer, "error": str(exc)})
            os._exit(LAUNCH_FAILED)
    argv = cfg["argv"]
    report_exec()
    try:
        os.execve(argv[0], argv, cfg["env"])
    except OSError as exc:
        report({"layer": "exec", "error": f"cannot run {argv[0]}: {exc.strerror}"})
        os._exit(LAUNCH_FAILED)


# ----------------------------------------------------------------- the probe


def _in_child(check: Callable[[], str]) -> str:
    """Run ``check`` in a forked child; return its one-line answer (or the error)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            answer = check()
        except Exception as exc:  # reported to the parent, never raised
            answer = f"error: {exc}"
        os.write(write_end, answer.encode()[:4000])
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode() or "error: the check died"


def _check_seccomp(library: str | None) -> Callable[[], str]:
    import socket

    def check() -> str:
        apply_seccomp({"library": library, "deny_inet": True})
        try:
            socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        except PermissionError:
            return "ok"
        return "error: the filter loaded but a TCP socket was still created"

    return check


def _check_landlock(scratch: str) -> Callable[[], str]:
    def check() -> str:
        abi = apply_landlock({"read": ["/proc/self"], "write": [scratch]})
        try:
            open("/etc/hostname", "rb").close()
        except PermissionError:
            return f"ok {abi}"
        except FileNotFoundError:
            return f"ok {abi}"
        return "error: the ruleset loaded but /etc/hostname was still readable"

    return check


def probe(library: str | None, scratch: str) -> dict[str, Any]:
    return {
        "landlock_abi": landlock_abi(),
        "seccomp": _in_child(_check_seccomp(library)),
        "landlock": _in_child(_check_landlock(scratch)),
    }


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[1] == "--probe":
        import json

        print(json.dumps(probe(argv[2] or None, argv[3])))
        return
    cfg = marshal.loads(bytes.fromhex(argv[1]))  # noqa: S302  # written by Grace, as root
    status_fd = cfg["status_fd"]
    os.set_inheritable(status_fd, False)

    def report(doc: dict[str, str]) -> None:
        line = f"{doc['layer']}\t{doc['error']}".replace("\n", " ")
        os.write(status_fd, line.encode())

    _launch(cfg, report, lambda: os.write(status_fd, b"E"))


if __name__ == "__main__":
    main(sys.argv)
