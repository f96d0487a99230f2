"""Splitting a parsed document into passages that keep their place and their code intact.

A chunk is a run of whole blocks (paragraphs, list items, fenced code blocks)
under one heading trail ("Install > From source"), at most ``max_chars`` long.
A fenced block is never cut unless it alone is too long; then it is split on
line boundaries and each piece is fenced again with the same language, so a
chunk is always valid Markdown that Hunter scans as a whole.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

__all__ = ["Chunk", "chunk_text"]

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


@dataclasses.dataclass(frozen=True, slots=True)
class Chunk:
    seq: int
    heading: str
    text: str
    kind: str  # prose | code | mixed
    sha256: str


@dataclasses.dataclass(slots=True)
class _Block:
    text: str
    code: bool


def _blocks(text: str) -> list[tuple[tuple[str, ...], _Block]]:
    """(heading trail, block) in document order; headings themselves are not blocks."""
    out: list[tuple[tuple[str, ...], _Block]] = []
    trail: list[tuple[int, str]] = []
    para: list[str] = []
    lines = text.split("\n")

    def heading() -> tuple[str, ...]:
        return tuple(t for _, t in trail)

    def end_para() -> None:
        if para and "".join(para).strip():
            out.append((heading(), _Block("\n".join(para).strip("\n"), False)))
        para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            end_para()
            marker = fence.group(1)
            body = [line]
            i += 1
            while i < len(lines):
                body.append(lines[i])
                stripped = lines[i].strip()
                if stripped.startswith(marker[0] * len(marker)) and not stripped.strip(marker[0]):
                    break
                i += 1
            else:
                body.append(marker)  # an unclosed fence is closed at the end
            out.append((heading(), _Block("\n".join(body), True)))
            i += 1
            continue
        match = _HEADING.match(line)
        if match:
            end_para()
            level = len(match.group(1))
            while trail and trail[-1][0] >= level:
                trail.pop()
            trail.append((level, match.group(2).strip()))
            i += 1
            continue
        if not line.strip():
            end_para()
        else:
            para.append(line)
        i += 1
    end_para()
    return out


def _split_code(block: str, max_chars: int) -> list[str]:
    lines = block.split("\n")
    opening, closing, body = lines[0], lines[-1], lines[1:-1]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    budget = max(max_chars - len(opening) - len(closing) - 2, 40)
    for line in body:
        while len(line) > budget:  # one enormous line: cut it
            if current:
                pieces.append("\n".join([opening, *current, closing]))
                current, size = [], 0
            pieces.append("\n".join([opening, line[:budget], closing]))
            line = line[budget:]
        if size + len(line) + 1 > budget and current:
            pieces.append("\n".join([opening, *current, closing]))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current or not pieces:
        pieces.append("\n".join([opening, *current, closing]))
    return pieces


def _split_prose(text: str, max_chars: int) -> list[str]:
    sentences = re.split(r"(?<=[.!?])\s+", text)
    pieces: list[str] = []
    current = ""
    for sentence in sentences:
        while len(sentence) > max_chars:
            if current:
                pieces.append(current)
                current = ""
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            pieces.append(sentence[:cut].rstrip())
            sentence = sentence[cut:].lstrip()
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        pieces.append(current)
    return pieces


def _kind(blocks: list[_Block]) -> str:
    code = sum(len(b.text) for b in blocks if b.code)
    total = sum(len(b.text) for b in blocks) or 1
    if code / total > 0.8:
        return "code"
    if code / total < 0.2:
        return "prose"
    return "mixed"


def chunk_text(text: str, *, max_chars: int = 1500) -> list[Chunk]:
    """Passages of at most ``max_chars`` characters (headings excluded), in document order."""
    if max_chars < 200:
        raise ValueError("max_chars must be at least 200")
    groups: list[tuple[str, list[_Block]]] = []
    for trail, block in _blocks(text):
        parts = (
            [block]
            if len(block.text) <= max_chars
            else [
                _Block(p, block.code)
                for p in (
                    _split_code(block.text, max_chars)
                    if block.code
                    else _split_prose(block.text, max_chars)
                )
            ]
        )
        heading = " > ".join(trail)
        for part in parts:
            if groups and groups[-1][0] == heading:
                size = sum(len(b.text) + 2 for b in groups[-1][1])
                if size + len(part.text) <= max_chars:
                    groups[-1][1].append(part)
                    continue
            groups.append((heading, [part]))
    chunks = []
    for seq, (heading, blocks) in enumerate(groups):
        body = "\n\n".join(b.text for b in blocks)
        digest = hashlib.sha256(f"{heading}\n\n{body}".encode()).hexdigest()
        chunks.append(Chunk(seq, heading, body, _kind(blocks), digest))
    return chunks
