"""Ed25519 signing (RFC 8032 vectors), key ids, and the key stores' safety checks."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from grace_kernel.errors import InputError, KeyStoreError
from grace_kernel.ledger._keys import FileKeyStore, MemoryKeyStore, PublicKey, Signer, key_id

# RFC 8032 §7.1, TEST 1 and TEST 2: (secret, public, message, signature).
RFC8032_VECTORS: list[tuple[str, str, str, str]] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
        "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
        "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]


def _signer(secret_hex: str) -> Signer:
    return Signer(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret_hex)))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with umask 0, so the store itself must choose tight permissions."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


# --- RFC 8032 ------------------------------------------------------------------------


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_signer_reproduces_rfc8032_signature(
    secret: str, public: str, message: str, signature: str
) -> None:
    signer = _signer(secret)
    assert signer.public.raw.hex() == public
    assert signer.sign(bytes.fromhex(message)).hex() == signature


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_public_key_verifies_rfc8032_signature_and_rejects_changes(
    secret: str, public: str, message: str, signature: str
) -> None:
    del secret
    key = PublicKey(bytes.fromhex(public))
    sig, msg = bytes.fromhex(signature), bytes.fromhex(message)
    assert key.verify(sig, msg) is True
    assert key.verify(sig, msg + b"\x00") is False
    assert key.verify(bytes([sig[0] ^ 1]) + sig[1:], msg) is False
    assert key.verify(sig[:-1], msg) is False


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_key_id_is_hex_sha256_of_the_raw_public_key(
    secret: str, public: str, message: str, signature: str
) -> None:
    del message, signature
    expected = hashlib.sha256(bytes.fromhex(public)).hexdigest()
    assert key_id(bytes.fromhex(public)) == expected
    assert PublicKey(bytes.fromhex(public)).keyid == expected
    assert _signer(secret).keyid == expected


@pytest.mark.parametrize("raw", [b"", b"\x01" * 31, b"\x01" * 33, "d75a" * 16])
def test_public_key_must_be_32_raw_bytes(raw: bytes | str) -> None:
    with pytest.raises(InputError, match="32 bytes"):
        PublicKey(raw)  # type: ignore[arg-type]  # the str case is a deliberate misuse


def test_rfc8032_public_key_signs_nothing_for_another_key() -> None:
    first, second = (_signer(v[0]) for v in RFC8032_VECTORS)
    signature = first.sign(b"record")
    assert first.public.verify(signature, b"record")
    assert not second.public.verify(signature, b"record")


# --- MemoryKeyStore --------------------------------------------------------------------


def test_memory_key_store_creates_and_loads_keys_by_id() -> None:
    store = MemoryKeyStore()
    signer = store.create()
    assert store.has(signer.keyid)
    assert store.load(signer.keyid) is signer
    assert not store.has("00" * 32)
    with pytest.raises(KeyStoreError, match="no private key"):
        store.load("00" * 32)


# --- FileKeyStore ----------------------------------------------------------------------


@pytest.mark.usefixtures("open_umask")
def test_created_key_file_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "grace" / "keys")
    signer = store.create()
    assert _mode(store.directory) == 0o700
    assert _mode(store.path(signer.keyid)) == 0o600
    assert store.path(signer.keyid).name == f"{signer.keyid}.pem"


@pytest.mark.usefixtures("open_umask")
def test_create_tightens_an_existing_open_directory(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o755)
    FileKeyStore(directory).create()
    assert _mode(directory) == 0o700


def test_created_key_loads_back_and_signs_for_the_same_public_key(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    created = store.create()
    assert store.has(created.keyid)
    loaded = FileKeyStore(tmp_path / "keys").load(created.keyid)
    assert loaded.keyid == created.keyid
    assert created.public.verify(loaded.sign(b"data"), b"data")
    assert store.path(created.keyid).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601, 0o610])
def test_key_file_readable_by_others_is_refused_with_a_chmod_hint(
    tmp_path: Path, mode: int
) -> None:
    store = FileKeyStore(tmp_path / "keys")
    signer = store.create()
    path = store.path(signer.keyid)
    path.chmod(mode)
    with pytest.raises(KeyStoreError) as caught:
        store.load(signer.keyid)
    assert str(path) in caught.value.message
    assert f"{mode:04o}" in caught.value.message
    assert caught.value.hint is not None
    assert "chmod 600" in caught.value.hint
    assert str(path) in caught.value.hint


@pytest.mark.parametrize("mode", [0o400, 0o600, 0o700])
def test_owner_only_key_file_is_accepted(tmp_path: Path, mode: int) -> None:
    store = FileKeyStore(tmp_path / "keys")
    signer = store.create()
    store.path(signer.keyid).chmod(mode)
    assert store.load(signer.keyid).keyid == signer.keyid


def _write_key_file(store: FileKeyStore, keyid: str, data: bytes) -> Path:
    store.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = store.path(keyid)
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("make_pem", "type_name"),
    [
        (lambda: _pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "RSA"),
        (lambda: _pkcs8(ec.generate_private_key(ec.SECP256R1())), "EC"),
    ],
    ids=["rsa", "ec"],
)
def test_non_ed25519_private_key_is_refused_naming_its_type(
    tmp_path: Path, make_pem: Callable[[], bytes], type_name: str
) -> None:
    store = FileKeyStore(tmp_path / "keys")
    keyid = "ab" * 32
    path = _write_key_file(store, keyid, make_pem())
    with pytest.raises(KeyStoreError, match="Ed25519 only") as caught:
        store.load(keyid)
    assert f"holds a {type_name}" in caught.value.message
    assert str(path) in caught.value.message


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff garbage \x13\x37",
        b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    ],
    ids=["empty", "garbage", "broken-pem", "public-key-pem"],
)
def test_unreadable_key_file_is_refused(tmp_path: Path, data: bytes) -> None:
    store = FileKeyStore(tmp_path / "keys")
    path = _write_key_file(store, "cd" * 32, data)
    with pytest.raises(KeyStoreError, match="not a readable unencrypted PEM private key") as caught:
        store.load("cd" * 32)
    assert str(path) in caught.value.message


def test_encrypted_key_file_is_refused(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    store = FileKeyStore(tmp_path / "keys")
    signer = Signer(key)
    _write_key_file(store, signer.keyid, pem)
    with pytest.raises(KeyStoreError, match="unencrypted"):
        store.load(signer.keyid)


def test_missing_key_file_is_refused_with_a_restore_hint(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    keyid = "ef" * 32
    assert not store.has(keyid)
    with pytest.raises(KeyStoreError, match="missing") as caught:
        store.load(keyid)
    assert str(store.path(keyid)) in caught.value.message
    assert caught.value.hint is not None
    assert "backup" in caught.value.hint


def test_key_file_holding_a_different_key_than_its_name_is_refused(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    first, second = store.create(), store.create()
    _write_key_file(store, second.keyid, store.path(first.keyid).read_bytes())
    with pytest.raises(KeyStoreError) as caught:
        store.load(second.keyid)
    assert f"holds key {first.keyid[:16]}, not {second.keyid[:16]}" in caught.value.message
    assert store.load(first.keyid).keyid == first.keyid


def test_create_never_overwrites_and_each_key_is_new(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    keyids = {store.create().keyid for _ in range(5)}
    assert len(keyids) == 5
    assert sorted(p.name for p in store.directory.iterdir()) == sorted(f"{k}.pem" for k in keyids)
