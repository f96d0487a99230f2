"""Ed25519 signing keys and the key-store seam.

Key id = hex SHA-256 of the raw 32-byte public key.  :class:`FileKeyStore`
keeps one PKCS#8 PEM file per key in ``.grace/keys/`` (directory 0700, files
0600) and refuses a private key file that group or others can read.
:class:`MemoryKeyStore` is the in-memory fake for tests.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from grace_kernel.errors import InputError, KeyStoreError

__all__ = ["FileKeyStore", "KeyStore", "MemoryKeyStore", "PublicKey", "Signer", "key_id"]


_KEYID = re.compile(r"[0-9a-f]{64}")


def key_id(public_raw: bytes) -> str:
    """Hex SHA-256 of the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_raw).hexdigest()


class PublicKey:
    """A verifying key; ``verify`` answers a bool and never raises for a bad signature."""

    __slots__ = ("_key", "keyid", "raw")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != 32:
            raise InputError("an Ed25519 public key is exactly 32 bytes")
        try:
            self._key = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError as exc:
            raise InputError(f"not an Ed25519 public key: {exc}") from None
        self.raw = raw
        self.keyid = key_id(raw)

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self._key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


class Signer:
    """A private key in memory, able to sign; built by a :class:`KeyStore`."""

    __slots__ = ("_key", "keyid", "public")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._key = private
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public = PublicKey(raw)
        self.keyid = self.public.keyid

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def private_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


class KeyStore(Protocol):
    """Where private keys live.  Only the trusted side ever opens one."""

    def create(self) -> Signer: ...

    def load(self, keyid: str) -> Signer: ...

    def has(self, keyid: str) -> bool: ...


class MemoryKeyStore:
    """In-memory key store for tests."""

    def __init__(self) -> None:
        self._keys: dict[str, Signer] = {}

    def create(self) -> Signer:
        signer = Signer(Ed25519PrivateKey.generate())
        self._keys[signer.keyid] = signer
        return signer

    def load(self, keyid: str) -> Signer:
        try:
            return self._keys[keyid]
        except KeyError:
            raise KeyStoreError(f"no private key for key id {keyid[:16]}") from None

    def has(self, keyid: str) -> bool:
        return keyid in self._keys


class FileKeyStore:
    """One ``<keyid>.pem`` file per key in a private directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, keyid: str) -> Path:
        if not _KEYID.fullmatch(keyid):
            raise KeyStoreError(f"{keyid!r} is not a key id (64 lower-case hex digits)")
        return self.directory / f"{keyid}.pem"

    def create(self) -> Signer:
        signer = Signer(Ed25519PrivateKey.generate())
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.directory.chmod(0o700)
            fd = os.open(self.path(signer.keyid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(signer.private_pem())
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise KeyStoreError(
                f"cannot write a new signing key in {self.directory}: {exc.strerror}"
            ) from None
        return signer

    def has(self, keyid: str) -> bool:
        return self.path(keyid).is_file()

    def load(self, keyid: str) -> Signer:
        path = self.path(keyid)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise KeyStoreError(
                f"signing key {path} is missing",
                hint="restore it from backup; without it no new record can be signed",
            ) from None
        except OSError as exc:
            raise KeyStoreError(f"cannot read signing key {path}: {exc.strerror}") from None
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyStoreError(
                f"private key file {path} is readable by others "
                f"(mode {stat.S_IMODE(info.st_mode):04o})",
                hint=f"run: chmod 600 {path}",
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"cannot read signing key {path}: {exc.strerror}") from None
        return _signer_from_pem(path, data, keyid)


def _signer_from_pem(path: Path, data: bytes, keyid: str) -> Signer:
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyStoreError(
            f"{path} is not a readable unencrypted PEM private key: {exc}"
        ) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyStoreError(
            f"{path} holds a {type(private).__name__.removeprefix('_')} key; "
            "Grace signs with Ed25519 only"
        )
    signer = Signer(private)
    if signer.keyid != keyid:
        raise KeyStoreError(f"{path} holds key {signer.keyid[:16]}, not {keyid[:16]}")
    return signer
