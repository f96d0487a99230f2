"""Where Grace's shipped data (seeded policies, ...) lives: in the wheel or in a checkout."""

from __future__ import annotations

from pathlib import Path

from grace_kernel.errors import GraceEnvironmentError

__all__ = ["seeded_policy_dir"]

_PACKAGE = Path(__file__).resolve().parent


def seeded_policy_dir() -> Path:
    """``grace_kernel/_data/policies`` in an installed wheel, ``data/policies`` in a checkout."""
    for candidate in (_PACKAGE / "_data" / "policies", _PACKAGE.parent / "data" / "policies"):
        if (candidate / "grace.cedarschema").is_file():
            return candidate
    raise GraceEnvironmentError(
        "Grace's seeded policies are missing from this installation",
        hint="reinstall Grace, or set GRACE_POLICY_DIR to a directory with grace.cedarschema",
    )
