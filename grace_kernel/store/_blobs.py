"""Content-addressed private files: ``<directory>/<sha256>``, one file per content.

The quarantine (``.grace/quarantine``) and the knowledge store
(``.grace/knowledge``) keep their bytes here.  A blob is written the one way
that survives a crash: into a temporary file in the same directory, fsynced,
renamed to its digest, then the directory fsynced.  A half-written copy never
carries a digest's name, so every blob that exists is whole, and every read
checks the digest.  Copies out mirror this: a verified copy in a temporary file
next to the destination, published under its name only if nothing is there yet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from grace_kernel.errors import GraceEnvironmentError, InputError, IntegrityError

__all__ = ["Blob", "BlobStore", "identity", "require_regular", "unlink_durably"]

_CHUNK = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")

Identity = tuple[int, int, int, int]


@dataclasses.dataclass(frozen=True, slots=True)
class Blob:
    """What was copied in: digest and size, plus the source's mode and identity at the time."""

    sha256: str
    size: int
    mode: int
    source: Identity


def identity(info: os.stat_result) -> Identity:
    """Device, inode, size and mtime: what changes when a file is replaced or written to."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def require_regular(path: Path, mode: int) -> None:
    """Refuse anything but a regular file, saying what it is instead."""
    if stat.S_ISDIR(mode):
        raise InputError(f"{path} is a directory", hint="give the files inside it one by one")
    if stat.S_ISLNK(mode):
        raise InputError(f"{path} is a symbolic link", hint="give the file it points to instead")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path} is not a regular file (a device, socket or pipe)")


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_durably(path: Path, *, missing_ok: bool = False) -> None:
    """Remove ``path`` so that the removal survives a crash (raises :class:`OSError`)."""
    path.unlink(missing_ok=missing_ok)
    fsync_dir(path.parent)


def _pump(source: BinaryIO, sink: Callable[[bytes], object] | None = None) -> tuple[str, int]:
    """Read ``source`` to its end, feeding ``sink``; returns its SHA-256 (hex) and size."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink(chunk)
    return digest.hexdigest(), size


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[BinaryIO]:
    """Open a regular file without following a final symlink or blocking on a pipe."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            require_regular(path, stat.S_IFLNK)
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        require_regular(path, os.fstat(fd).st_mode)
        yield handle


@contextlib.contextmanager
def _new_private(path: Path) -> Iterator[BinaryIO]:
    """A new file only this user can read (0600); flushed and fsynced when the block ends."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        yield handle
        handle.flush()
        os.fsync(fd)


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _exists(dest: Path) -> InputError:
    return InputError(f"{dest} already exists; a copy out never overwrites a file")


def _publish(tmp: Path, dest: Path) -> None:
    """Give ``tmp`` the name ``dest`` without ever replacing a file that is already there."""
    try:
        os.link(tmp, dest)
    except FileExistsError:
        raise _exists(dest) from None
    except OSError:  # no hard links on this file system: check, then rename
        if os.path.lexists(dest):
            raise _exists(dest) from None
        tmp.replace(dest)
        return
    tmp.unlink()


class BlobStore:
    """Content-addressed, private (directory 0700, files 0600) copies of bytes or files.

    ``kind`` names the blobs in errors ("quarantined", "knowledge");
    ``damaged_hint`` is the hint given when a blob is missing or altered.
    """

    def __init__(self, directory: Path, *, kind: str, damaged_hint: str | None = None) -> None:
        self.directory = directory
        self.kind = kind
        self.damaged_hint = damaged_hint

    def path(self, sha256: str) -> Path:
        if not _HEX64.fullmatch(sha256):
            raise IntegrityError(f"{sha256!r} is not a SHA-256 digest")
        return self.directory / sha256

    def put_bytes(self, data: bytes, *, sha256: str | None = None) -> str:
        """Store ``data``; returns its digest (``sha256`` when the caller already has it)."""
        digest = sha256 or hashlib.sha256(data).hexdigest()
        final = self.path(digest)
        self._ensure_directory()
        tmp = self.directory / f".incoming-{secrets.token_hex(8)}"
        try:
            with _new_private(tmp) as out:
                out.write(data)
            tmp.replace(final)
            fsync_dir(self.directory)
        except OSError as exc:
            _discard(tmp)
            raise GraceEnvironmentError(
                f"cannot store a {self.kind} blob in {self.directory}: {exc.strerror}"
            ) from None
        except BaseException:
            _discard(tmp)
            raise
        return digest

    def read(self, sha256: str) -> bytes:
        """The blob's bytes, checked against its digest."""
        with self._open(sha256) as handle:
            try:
                data = handle.read()
            except OSError as exc:
                raise GraceEnvironmentError(f"cannot read {handle.name}: {exc.strerror}") from None
        self._check(sha256, hashlib.sha256(data).hexdigest())
        return data

    def names(self) -> Iterator[str]:
        """The digests stored (temporary files left by a crash are not blobs)."""
        if not self.directory.is_dir():
            return
        for entry in self.directory.iterdir():
            if _HEX64.fullmatch(entry.name):
                yield entry.name

    def put_file(self, source: Path) -> Blob:
        """Copy ``source`` in, hashing as it goes; an identical blob is simply replaced.

        Raises :class:`InputError` when the source cannot be read or changes
        while it is copied (nothing is kept then).
        """
        self._ensure_directory()
        tmp = self.directory / f".incoming-{secrets.token_hex(8)}"
        try:
            with _reading(source) as handle:
                before = os.fstat(handle.fileno())
                with _new_private(tmp) as out:
                    sha256, size = _pump(handle, out.write)
                if identity(os.fstat(handle.fileno())) != identity(before):
                    raise InputError(
                        f"{source} changed while it was being copied", hint="run the command again"
                    )
            tmp.replace(self.path(sha256))
            fsync_dir(self.directory)
        except OSError as exc:
            _discard(tmp)
            raise GraceEnvironmentError(
                f"cannot store a copy of {source} in {self.directory}: {exc.strerror}"
            ) from None
        except BaseException:
            _discard(tmp)
            raise
        return Blob(sha256, size, stat.S_IMODE(before.st_mode), identity(before))

    def verify(self, sha256: str) -> None:
        """Raise :class:`IntegrityError` unless the blob exists and still hashes to its name."""
        with self._open(sha256) as handle:
            try:
                found, _ = _pump(handle)
            except OSError as exc:
                raise GraceEnvironmentError(f"cannot read {handle.name}: {exc.strerror}") from None
        self._check(sha256, found)

    def copy_out(self, sha256: str, dest: Path, *, mode: int) -> None:
        """Write the blob to ``dest`` (mode ``mode``), verifying it as it is copied.

        Nothing appears at ``dest`` unless the copy is whole and its digest is
        right; an existing ``dest`` is never replaced.
        """
        tmp = dest.with_name(f".{dest.name}.grace-restore-{secrets.token_hex(6)}")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with self._open(sha256) as handle, _new_private(tmp) as out:
                found, _ = _pump(handle, out.write)
                self._check(sha256, found)
                os.fchmod(out.fileno(), mode)
            _publish(tmp, dest)
            fsync_dir(dest.parent)
        except OSError as exc:
            _discard(tmp)
            raise GraceEnvironmentError(f"cannot write {dest}: {exc.strerror}") from None
        except BaseException:
            _discard(tmp)
            raise

    def remove(self, sha256: str) -> None:
        try:
            unlink_durably(self.path(sha256), missing_ok=True)
        except OSError as exc:
            raise GraceEnvironmentError(
                f"cannot remove blob {sha256[:16]}: {exc.strerror}",
                hint="it is no longer needed; remove it by hand",
            ) from None

    def _check(self, sha256: str, found: str) -> None:
        if found != sha256:
            raise IntegrityError(
                f"{self.kind} blob {self.path(sha256)} was modified: it hashes to {found[:16]}...",
                hint=self.damaged_hint,
            )

    @contextlib.contextmanager
    def _open(self, sha256: str) -> Iterator[BinaryIO]:
        path = self.path(sha256)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            missing = f"{self.kind} blob {path} is missing"
            raise IntegrityError(missing, hint=self.damaged_hint) from None
        except OSError as exc:
            raise GraceEnvironmentError(f"cannot read {path}: {exc.strerror}") from None
        with handle:
            yield handle

    def _ensure_directory(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.directory.chmod(0o700)
        except OSError as exc:
            raise GraceEnvironmentError(f"cannot create {self.directory}: {exc.strerror}") from None
