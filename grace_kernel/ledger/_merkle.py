"""RFC 9162 §2.1 Merkle tree hashing, proofs and their verification (same as RFC 6962 §2.1).

Pure functions over hashes.  Proof *generation* reads the tree through a
``perfect(level, index)`` callback returning the root of the perfect subtree
covering leaves ``[index << level, (index + 1) << level)``; the store answers it
from saved nodes.  Proof *verification* (:func:`verify_inclusion`,
:func:`verify_consistency`) trusts nothing but its arguments.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from grace_kernel.errors import InputError, InvalidProofError

__all__ = [
    "EMPTY_ROOT",
    "CompactRange",
    "PerfectFn",
    "TreeLevels",
    "completed_nodes",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "subtree_root",
    "verify_consistency",
    "verify_inclusion",
]

PerfectFn = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_root(start: int, end: int, perfect: PerfectFn) -> bytes:
    """MTH(D[start:end]) for the ranges RFC 9162's recursion visits."""
    n = end - start
    if n <= 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return perfect(level, start >> level)
    k = _split(n)
    return node_hash(subtree_root(start, start + k, perfect), subtree_root(start + k, end, perfect))


def inclusion_proof(index: int, size: int, perfect: PerfectFn) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf-side first."""
    if not 0 <= index < size:
        raise InputError(f"leaf index {index} is outside a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            proof.append(subtree_root(start + k, end, perfect))
            end = start + k
        else:
            proof.append(subtree_root(start, start + k, perfect))
            start += k
    proof.reverse()
    return proof


def consistency_proof(old_size: int, new_size: int, perfect: PerfectFn) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1 (empty when the sizes are equal)."""
    if not 0 < old_size <= new_size:
        raise InputError(f"no consistency proof from size {old_size} to size {new_size}")
    proof: list[bytes] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(subtree_root(start + k, end, perfect))
            end = start + k
        else:
            proof.append(subtree_root(start, start + k, perfect))
            start += k
            m -= k
            whole = False
    if not whole:
        proof.append(subtree_root(start, end, perfect))
    proof.reverse()
    return proof


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2; raises :class:`InvalidProofError` unless ``leaf`` is at ``index``."""
    if not 0 <= index < size:
        raise InvalidProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise InvalidProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProofError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise InvalidProofError(f"inclusion proof for leaf {index} does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2; raises :class:`InvalidProofError` unless new extends old."""
    if old_size > new_size or old_size < 0:
        raise InvalidProofError(f"tree of size {old_size} cannot precede one of size {new_size}")
    if old_size == new_size:
        if proof:
            raise InvalidProofError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise InvalidProofError(f"two different roots for the same size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise InvalidProofError("consistency proof from the empty tree must be empty")
        if old_root != EMPTY_ROOT:
            raise InvalidProofError("old root of size 0 is not the empty-tree hash")
        return
    if not proof:
        raise InvalidProofError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProofError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProofError("consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise InvalidProofError(
            f"consistency proof does not lead to the old root (size {old_size})"
        )
    if sr != new_root:
        raise InvalidProofError(
            f"consistency proof does not lead to the new root (size {new_size})"
        )


def completed_nodes(
    index: int, leaf: bytes, left_sibling: PerfectFn
) -> list[tuple[int, int, bytes]]:
    """The perfect subtrees completed by appending ``leaf`` at ``index``: (level, index, hash)."""
    out: list[tuple[int, int, bytes]] = []
    level, idx, h = 0, index, leaf
    while idx & 1:
        h = node_hash(left_sibling(level, idx - 1), h)
        level += 1
        idx >>= 1
        out.append((level, idx, h))
    return out


class CompactRange:
    """Roots of the perfect subtrees of a growing tree: O(log n) state, O(1) amortized append."""

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> None:
        idx, h, stack = self._size, leaf, self._stack
        while idx & 1:
            h = node_hash(stack.pop(), h)
            idx >>= 1
        stack.append(h)
        self._size += 1

    def root(self) -> bytes:
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        r = stack[-1]
        for h in reversed(stack[:-1]):
            r = node_hash(h, r)
        return r


class TreeLevels:
    """Every perfect-subtree hash of a tree, in memory (tests, bundles, the memory store)."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        index = len(self.levels[0])
        self.levels[0].append(leaf)
        for level, _idx, h in completed_nodes(index, leaf, self.perfect):
            if len(self.levels) <= level:
                self.levels.append([])
            self.levels[level].append(h)

    def perfect(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return subtree_root(0, self.size if size is None else size, self.perfect)
