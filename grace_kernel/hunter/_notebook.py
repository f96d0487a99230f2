"""Notebook cells as Python sees them, and notebooks as a list of cells and outputs.

IPython rewrites cell syntax before running it: ``!cmd`` becomes
``get_ipython().system('cmd')``, ``%env X=1`` becomes
``get_ipython().run_line_magic('env', 'X=1')``, a ``%%bash`` cell becomes one
``run_cell_magic`` call.  Hunter scans the rewritten code, so those risks are
ordinary calls to its rules.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

from grace_kernel.errors import InputError

__all__ = ["NotebookCell", "read_notebook", "transform_cell"]


@functools.lru_cache(maxsize=1)
def _transformer() -> Any:
    # Imported on first use: IPython is heavy and only cells need it.
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def transform_cell(source: str) -> str:
    """The Python IPython would run for ``source`` (unchanged when it has no IPython syntax)."""
    stripped = source.lstrip()
    if not any(mark in source for mark in ("!", "%", "?")) or not stripped:
        return source
    try:
        return str(_transformer().transform_cell(source))
    except Exception:  # IPython's transformers raise assorted errors on broken input
        return source


@dataclasses.dataclass(frozen=True)
class NotebookCell:
    index: int
    cell_type: str
    source: str
    outputs: tuple[dict[str, Any], ...]
    tags: frozenset[str]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return str(value) if value is not None else ""


def read_notebook(path: Path, data: bytes | None = None) -> list[NotebookCell]:
    """Parse an ``.ipynb`` leniently enough to scan it; :class:`InputError` if it is not one."""
    try:
        raw = path.read_bytes() if data is None else data
        doc = json.loads(raw.decode("utf-8", errors="replace"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not a notebook (invalid JSON: {exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise InputError(f"{path}: not a notebook (no 'cells' list)")
    cells = []
    for index, cell in enumerate(doc["cells"]):
        if not isinstance(cell, dict):
            continue
        raw_outputs = cell.get("outputs")
        outputs: list[Any] = raw_outputs if isinstance(raw_outputs, list) else []
        raw_metadata = cell.get("metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        raw_tags = metadata.get("tags")
        tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
        cells.append(
            NotebookCell(
                index=index,
                cell_type=str(cell.get("cell_type", "")),
                source=_text(cell.get("source")),
                outputs=tuple(o for o in outputs if isinstance(o, dict)),
                tags=frozenset(str(t) for t in tags),
            )
        )
    return cells
