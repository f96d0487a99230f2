"""Which files a directory scan reads: everything git would track.

``.gitignore`` files are honoured at every level (each applies to its own
subtree, as in git); ``.git`` and ``.grace`` are never entered.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pathspec

__all__ = ["walk_files"]

_ALWAYS_SKIPPED = frozenset({".git", ".grace", "__pycache__"})


def _spec(directory: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        lines = (directory / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines.splitlines())


def walk_files(root: Path) -> Iterator[Path]:
    """Files under ``root`` (or ``root`` itself), skipping what .gitignore excludes."""
    if root.is_file():
        yield root
        return
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    for current, dirs, files in os.walk(root):
        here = Path(current)
        specs = [(base, spec) for base, spec in specs if here.is_relative_to(base)]
        spec = _spec(here)
        if spec is not None:
            specs.append((here, spec))

        def ignored(
            path: Path, is_dir: bool, specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = specs
        ) -> bool:
            for base, rules in specs:
                relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
                if rules.match_file(relative):
                    return True
            return False

        dirs[:] = sorted(
            d for d in dirs if d not in _ALWAYS_SKIPPED and not ignored(here / d, True)
        )
        for name in sorted(files):
            path = here / name
            if not path.is_symlink() and not ignored(path, False):
                yield path
