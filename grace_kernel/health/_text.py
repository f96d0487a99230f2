"""What a heal did, in lines a person reads (``grace heal`` and ``%grace heal``)."""

from __future__ import annotations

from typing import Any

__all__ = ["heal_lines"]


def heal_lines(done: dict[str, Any]) -> list[str]:
    """``done`` is :meth:`Supervisor.heal`'s answer, with ``status`` added."""
    verb = "would" if done["dry_run"] else "did"
    lines = [f"{a['component']}: {a['action']} ({a['detail']})" for a in done["actions"]]
    lines = lines or ["nothing to heal: every component is healthy"]
    lines.append(f"mode: {done['mode']} ({verb} run: {len(done['actions'])} action(s))")
    failed = [c["name"] for c in done["status"]["components"] if c["health"] == "failed"]
    if failed and not done["dry_run"]:
        lines.append(f"still failed: {', '.join(failed)}")
    return lines
