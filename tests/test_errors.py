"""One exception tree: every branch has its exit code and a human diagnosis."""

from __future__ import annotations

import pytest

from grace_kernel import errors


@pytest.mark.parametrize(
    ("cls", "code", "kind"),
    [
        (errors.InputError, 2, "input"),
        (errors.ConfigError, 2, "config"),
        (errors.BundleError, 2, "bundle"),
        (errors.MalformedRecordError, 2, "malformed"),
        (errors.PolicyError, 3, "policy"),
        (errors.IntegrityError, 1, "integrity"),
        (errors.VerificationError, 1, "verification"),
        (errors.InvalidProofError, 1, "proof"),
        (errors.GraceEnvironmentError, 4, "environment"),
        (errors.KeyStoreError, 4, "keys"),
        (errors.StoreError, 4, "store"),
    ],
)
def test_each_branch_has_its_exit_code_and_kind(
    cls: type[errors.GraceError], code: int, kind: str
) -> None:
    error = cls("something broke", hint="do this")
    assert isinstance(error, errors.GraceError)
    assert error.exit_code == code
    assert error.to_json() == {"kind": kind, "message": "something broke", "hint": "do this"}
    assert error.diagnostics() == "error: something broke\n  hint: do this"


def test_diagnostics_without_hint_is_one_line() -> None:
    assert errors.StoreError("disk full").diagnostics() == "error: disk full"


def test_verification_error_carries_the_index() -> None:
    assert errors.VerificationError("bad", index=4).index == 4
