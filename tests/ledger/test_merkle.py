"""RFC 6962 / RFC 9162 Merkle tree: reference vectors, properties and edge errors.

The vectors are the RFC 6962 reference tree used by Certificate Transparency
implementations (indices here are 0-based).  The properties check the package
against a small recursive implementation of the RFC 9162 §2.1 definitions
written in this file, and check that the verifiers reject every kind of
tampering.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grace_kernel.errors import InputError, InvalidProofError
from grace_kernel.ledger._merkle import (
    EMPTY_ROOT,
    CompactRange,
    TreeLevels,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)

# --- RFC 6962 reference tree -------------------------------------------------

RFC6962_LEAVES: tuple[bytes, ...] = tuple(
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
)

RFC6962_ROOTS: dict[int, str] = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

INCLUSION_VECTORS: list[tuple[int, int, list[str]]] = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

CONSISTENCY_VECTORS: list[tuple[int, int, list[str]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def _rfc_tree() -> TreeLevels:
    return TreeLevels([leaf_hash(d) for d in RFC6962_LEAVES])


def _hexes(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


# --- An independent reading of RFC 9162 §2.1, over leaf hashes -----------------


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def reference_mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) (§2.1.1) for already-hashed leaves."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _largest_power_of_two_below(len(leaves))
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


def reference_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (§2.1.3.1)."""
    if len(leaves) <= 1:
        return []
    k = _largest_power_of_two_below(len(leaves))
    if m < k:
        return [*reference_path(m, leaves[:k]), reference_mth(leaves[k:])]
    return [*reference_path(m - k, leaves[k:]), reference_mth(leaves[:k])]


def reference_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) (§2.1.4.1)."""
    if m == len(leaves):
        return [] if whole else [reference_mth(leaves)]
    k = _largest_power_of_two_below(len(leaves))
    if m <= k:
        return [*reference_subproof(m, leaves[:k], whole), reference_mth(leaves[k:])]
    return [*reference_subproof(m - k, leaves[k:], False), reference_mth(leaves[:k])]


MAX_SIZE = 300
BIG_LEAVES: tuple[bytes, ...] = tuple(leaf_hash(i.to_bytes(4, "big")) for i in range(MAX_SIZE))
BIG_TREE = TreeLevels(BIG_LEAVES)

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def index_in_tree(draw: st.DrawFn, min_size: int = 1) -> tuple[int, int]:
    size = draw(st.integers(min_value=min_size, max_value=MAX_SIZE))
    index = draw(st.integers(min_value=0, max_value=size - 1))
    return index, size


@st.composite
def size_pair(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(min_value=1, max_value=MAX_SIZE))
    old = draw(st.integers(min_value=1, max_value=new))
    return old, new


# --- Hash primitives -----------------------------------------------------------


def test_leaf_and_node_hashes_carry_rfc6962_domain_separation_bytes() -> None:
    left, right = b"L" * 32, b"R" * 32
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != node_hash(right, left)
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


# --- Reference roots -----------------------------------------------------------


@pytest.mark.parametrize("size", range(9))
def test_tree_levels_and_subtree_root_give_rfc6962_reference_roots(size: int) -> None:
    expected = RFC6962_ROOTS[size]
    prefix_tree = TreeLevels([leaf_hash(d) for d in RFC6962_LEAVES[:size]])
    full_tree = _rfc_tree()
    assert prefix_tree.size == size
    assert prefix_tree.root().hex() == expected
    assert full_tree.root(size).hex() == expected
    assert subtree_root(0, size, full_tree.perfect).hex() == expected


@pytest.mark.parametrize("size", range(9))
def test_compact_range_gives_rfc6962_reference_roots(size: int) -> None:
    compact = CompactRange()
    for data in RFC6962_LEAVES[:size]:
        compact.append(leaf_hash(data))
    assert compact.size == size
    assert compact.root().hex() == RFC6962_ROOTS[size]


def test_reference_implementation_in_this_file_agrees_with_rfc6962_roots() -> None:
    leaves = [leaf_hash(d) for d in RFC6962_LEAVES]
    assert [reference_mth(leaves[:n]).hex() for n in range(9)] == [
        RFC6962_ROOTS[n] for n in range(9)
    ]


# --- Inclusion vectors -----------------------------------------------------------


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION_VECTORS)
def test_inclusion_proof_generation_matches_rfc6962_vector(
    index: int, size: int, path: list[str]
) -> None:
    assert _hexes(inclusion_proof(index, size, _rfc_tree().perfect)) == path


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION_VECTORS)
def test_verify_inclusion_accepts_rfc6962_vector_and_rejects_other_leaf(
    index: int, size: int, path: list[str]
) -> None:
    proof = [bytes.fromhex(p) for p in path]
    root = bytes.fromhex(RFC6962_ROOTS[size])
    verify_inclusion(leaf_hash(RFC6962_LEAVES[index]), index, size, proof, root)
    with pytest.raises(InvalidProofError):
        verify_inclusion(leaf_hash(b"not in the tree"), index, size, proof, root)


# --- Consistency vectors ---------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY_VECTORS)
def test_consistency_proof_generation_matches_rfc6962_vector(
    old: int, new: int, path: list[str]
) -> None:
    assert _hexes(consistency_proof(old, new, _rfc_tree().perfect)) == path


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY_VECTORS)
def test_verify_consistency_accepts_rfc6962_vector_and_rejects_other_old_root(
    old: int, new: int, path: list[str]
) -> None:
    proof = [bytes.fromhex(p) for p in path]
    old_root, new_root = bytes.fromhex(RFC6962_ROOTS[old]), bytes.fromhex(RFC6962_ROOTS[new])
    verify_consistency(old, new, old_root, new_root, proof)
    with pytest.raises(InvalidProofError):
        verify_consistency(old, new, hashlib.sha256(b"forged").digest(), new_root, proof)


# --- Properties over random trees ------------------------------------------------


@PROPERTY_SETTINGS
@given(st.lists(st.binary(max_size=12), max_size=40))
def test_tree_levels_and_compact_range_roots_equal_reference_mth(data: list[bytes]) -> None:
    leaves = [leaf_hash(d) for d in data]
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    expected = reference_mth(leaves)
    assert TreeLevels(leaves).root() == expected
    assert compact.root() == expected


def test_compact_range_root_equals_tree_levels_root_for_every_prefix() -> None:
    compact = CompactRange()
    assert compact.root() == BIG_TREE.root(0) == EMPTY_ROOT
    for size, leaf in enumerate(BIG_LEAVES, start=1):
        compact.append(leaf)
        assert compact.root() == BIG_TREE.root(size), size
        assert compact.root() == TreeLevels(BIG_LEAVES[:size]).root(), size
    assert BIG_TREE.root() == reference_mth(BIG_LEAVES)


@PROPERTY_SETTINGS
@given(index_in_tree())
def test_every_generated_inclusion_proof_matches_the_rfc_and_verifies(
    case: tuple[int, int],
) -> None:
    index, size = case
    proof = inclusion_proof(index, size, BIG_TREE.perfect)
    assert proof == reference_path(index, BIG_LEAVES[:size])
    root = BIG_TREE.root(size)
    assert root == reference_mth(BIG_LEAVES[:size])
    verify_inclusion(BIG_LEAVES[index], index, size, proof, root)


@PROPERTY_SETTINGS
@given(size_pair())
def test_every_generated_consistency_proof_matches_the_rfc_and_verifies(
    case: tuple[int, int],
) -> None:
    old, new = case
    proof = consistency_proof(old, new, BIG_TREE.perfect)
    assert proof == reference_subproof(old, BIG_LEAVES[:new], True)
    verify_consistency(old, new, BIG_TREE.root(old), BIG_TREE.root(new), proof)


@PROPERTY_SETTINGS
@given(index_in_tree(min_size=2), st.data())
def test_inclusion_proof_with_one_flipped_byte_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    proof = inclusion_proof(index, size, BIG_TREE.perfect)
    element = data.draw(st.integers(0, len(proof) - 1), label="element")
    offset = data.draw(st.integers(0, 31), label="byte")
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = bytearray(proof[element])
    tampered[offset] ^= mask
    proof[element] = bytes(tampered)
    with pytest.raises(InvalidProofError):
        verify_inclusion(BIG_LEAVES[index], index, size, proof, BIG_TREE.root(size))


@PROPERTY_SETTINGS
@given(index_in_tree(min_size=2), st.data())
def test_inclusion_proof_at_a_wrong_index_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
    proof = inclusion_proof(index, size, BIG_TREE.perfect)
    with pytest.raises(InvalidProofError):
        verify_inclusion(BIG_LEAVES[index], other, size, proof, BIG_TREE.root(size))


@PROPERTY_SETTINGS
@given(index_in_tree(), st.data())
def test_inclusion_proof_checked_against_a_wrong_tree_size_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    other = data.draw(st.integers(index + 1, MAX_SIZE).filter(lambda n: n != size), label="size")
    proof = inclusion_proof(index, size, BIG_TREE.perfect)
    with pytest.raises(InvalidProofError):
        verify_inclusion(BIG_LEAVES[index], index, other, proof, BIG_TREE.root(other))


@PROPERTY_SETTINGS
@given(index_in_tree(), st.data())
def test_inclusion_proof_with_an_extra_element_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    proof = inclusion_proof(index, size, BIG_TREE.perfect)
    position = data.draw(st.integers(0, len(proof)), label="position")
    extra = data.draw(st.sampled_from([*proof, BIG_TREE.root(size), b"\x00" * 32]), label="extra")
    proof.insert(position, extra)
    with pytest.raises(InvalidProofError):
        verify_inclusion(BIG_LEAVES[index], index, size, proof, BIG_TREE.root(size))


@PROPERTY_SETTINGS
@given(index_in_tree(min_size=2), st.data())
def test_inclusion_proof_with_a_missing_element_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    proof = inclusion_proof(index, size, BIG_TREE.perfect)
    del proof[data.draw(st.integers(0, len(proof) - 1), label="dropped")]
    with pytest.raises(InvalidProofError):
        verify_inclusion(BIG_LEAVES[index], index, size, proof, BIG_TREE.root(size))


@PROPERTY_SETTINGS
@given(index_in_tree(), st.binary(min_size=32, max_size=32))
def test_inclusion_proof_against_a_wrong_root_is_rejected(
    case: tuple[int, int], wrong_root: bytes
) -> None:
    index, size = case
    root = BIG_TREE.root(size)
    proof = inclusion_proof(index, size, BIG_TREE.perfect)
    with pytest.raises(InvalidProofError):
        verify_inclusion(BIG_LEAVES[index], index, size, proof, wrong_root)
    with pytest.raises(InvalidProofError):
        verify_inclusion(BIG_LEAVES[(index + 1) % MAX_SIZE], index, size, proof, root)


@PROPERTY_SETTINGS
@given(size_pair().filter(lambda c: c[0] < c[1]), st.data())
def test_consistency_proof_with_one_flipped_byte_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    old, new = case
    proof = consistency_proof(old, new, BIG_TREE.perfect)
    element = data.draw(st.integers(0, len(proof) - 1), label="element")
    offset = data.draw(st.integers(0, 31), label="byte")
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = bytearray(proof[element])
    tampered[offset] ^= mask
    proof[element] = bytes(tampered)
    with pytest.raises(InvalidProofError):
        verify_consistency(old, new, BIG_TREE.root(old), BIG_TREE.root(new), proof)


@PROPERTY_SETTINGS
@given(size_pair(), st.data())
def test_consistency_proof_checked_against_wrong_sizes_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    old, new = case
    proof = consistency_proof(old, new, BIG_TREE.perfect)
    other_new = data.draw(st.integers(old, MAX_SIZE).filter(lambda n: n != new), label="new")
    with pytest.raises(InvalidProofError):
        verify_consistency(old, other_new, BIG_TREE.root(old), BIG_TREE.root(other_new), proof)
    if new > 1:
        other_old = data.draw(st.integers(1, new).filter(lambda m: m != old), label="old")
        with pytest.raises(InvalidProofError):
            verify_consistency(other_old, new, BIG_TREE.root(other_old), BIG_TREE.root(new), proof)


@PROPERTY_SETTINGS
@given(size_pair(), st.data())
def test_consistency_proof_with_an_extra_element_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    old, new = case
    proof = consistency_proof(old, new, BIG_TREE.perfect)
    position = data.draw(st.integers(0, len(proof)), label="position")
    candidates = [*proof, BIG_TREE.root(old), BIG_TREE.root(new), b"\x00" * 32]
    proof.insert(position, data.draw(st.sampled_from(candidates), label="extra"))
    with pytest.raises(InvalidProofError):
        verify_consistency(old, new, BIG_TREE.root(old), BIG_TREE.root(new), proof)


@PROPERTY_SETTINGS
@given(size_pair().filter(lambda c: c[0] < c[1]), st.data())
def test_consistency_proof_with_a_missing_element_is_rejected(
    case: tuple[int, int], data: st.DataObject
) -> None:
    old, new = case
    proof = consistency_proof(old, new, BIG_TREE.perfect)
    del proof[data.draw(st.integers(0, len(proof) - 1), label="dropped")]
    with pytest.raises(InvalidProofError):
        verify_consistency(old, new, BIG_TREE.root(old), BIG_TREE.root(new), proof)


@PROPERTY_SETTINGS
@given(size_pair(), st.binary(min_size=32, max_size=32))
def test_consistency_proof_against_a_wrong_root_is_rejected(
    case: tuple[int, int], wrong_root: bytes
) -> None:
    old, new = case
    proof = consistency_proof(old, new, BIG_TREE.perfect)
    old_root, new_root = BIG_TREE.root(old), BIG_TREE.root(new)
    with pytest.raises(InvalidProofError):
        verify_consistency(old, new, wrong_root, new_root, proof)
    with pytest.raises(InvalidProofError):
        verify_consistency(old, new, old_root, wrong_root, proof)


def test_consistency_proof_does_not_accept_a_rewritten_history() -> None:
    rewritten = list(BIG_LEAVES[:20])
    rewritten[3] = leaf_hash(b"rewritten record")
    forged_tree = TreeLevels(rewritten)
    for old in (7, 8):
        proof = consistency_proof(old, 20, forged_tree.perfect)
        verify_consistency(old, 20, forged_tree.root(old), forged_tree.root(20), proof)
        with pytest.raises(InvalidProofError):
            verify_consistency(old, 20, BIG_TREE.root(old), forged_tree.root(20), proof)


# --- Edge errors -------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (6, 5), (-1, 5), (-1, 0)])
def test_inclusion_proof_generation_refuses_index_outside_tree_with_input_error(
    index: int, size: int
) -> None:
    with pytest.raises(InputError, match="outside a tree"):
        inclusion_proof(index, size, _rfc_tree().perfect)


@pytest.mark.parametrize(("old", "new"), [(0, 0), (0, 5), (6, 5), (-1, 3), (2, 1)])
def test_consistency_proof_generation_refuses_bad_sizes_with_input_error(
    old: int, new: int
) -> None:
    with pytest.raises(InputError, match="no consistency proof"):
        consistency_proof(old, new, _rfc_tree().perfect)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (8, 8), (9, 8), (-1, 8)])
def test_verify_inclusion_refuses_index_outside_tree_with_invalid_proof_error(
    index: int, size: int
) -> None:
    with pytest.raises(InvalidProofError, match="outside a tree"):
        verify_inclusion(leaf_hash(b""), index, size, [], bytes.fromhex(RFC6962_ROOTS[8]))


def test_verify_consistency_refuses_old_size_above_new_size() -> None:
    root5, root8 = bytes.fromhex(RFC6962_ROOTS[5]), bytes.fromhex(RFC6962_ROOTS[8])
    with pytest.raises(InvalidProofError, match="cannot precede"):
        verify_consistency(8, 5, root8, root5, [])
    with pytest.raises(InvalidProofError, match="cannot precede"):
        verify_consistency(-1, 5, EMPTY_ROOT, root5, [])


def test_verify_consistency_refuses_an_empty_proof_between_different_sizes() -> None:
    root5, root8 = bytes.fromhex(RFC6962_ROOTS[5]), bytes.fromhex(RFC6962_ROOTS[8])
    with pytest.raises(InvalidProofError, match="empty"):
        verify_consistency(5, 8, root5, root8, [])


def test_verify_consistency_between_equal_sizes_needs_equal_roots_and_no_proof() -> None:
    root8 = bytes.fromhex(RFC6962_ROOTS[8])
    verify_consistency(8, 8, root8, root8, [])
    with pytest.raises(InvalidProofError, match="two different roots"):
        verify_consistency(8, 8, root8, bytes.fromhex(RFC6962_ROOTS[7]), [])
    with pytest.raises(InvalidProofError, match="must be empty"):
        verify_consistency(8, 8, root8, root8, [root8])


def test_verify_consistency_from_the_empty_tree_needs_the_empty_root_and_no_proof() -> None:
    root8 = bytes.fromhex(RFC6962_ROOTS[8])
    verify_consistency(0, 8, EMPTY_ROOT, root8, [])
    with pytest.raises(InvalidProofError, match="must be empty"):
        verify_consistency(0, 8, EMPTY_ROOT, root8, [root8])
    with pytest.raises(InvalidProofError, match="empty-tree hash"):
        verify_consistency(0, 8, bytes.fromhex(RFC6962_ROOTS[1]), root8, [])
