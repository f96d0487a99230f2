"""The signed records health writes: mode transitions, incidents, restores, triggers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from grace_kernel.ledger import Entry, Ledger, Subject, canonical_json, predicate_type_urn

__all__ = [
    "HEALTH_INCIDENT",
    "HEALTH_TRANSITION",
    "HEALTH_TRIGGER",
    "STORE_RESTORE",
    "append_health_record",
    "health_record",
]

HEALTH_TRANSITION = predicate_type_urn("health-transition")
HEALTH_INCIDENT = predicate_type_urn("health-incident")
STORE_RESTORE = predicate_type_urn("health-store-restore")
HEALTH_TRIGGER = predicate_type_urn("health-trigger")  # a burst of security signals, contained

SUPERVISOR = "service:grace-supervisor"


def health_record(
    subject: str, predicate: Mapping[str, Any]
) -> tuple[list[Subject], dict[str, Any]]:
    """A health record's subjects and predicate: ``subject`` with the predicate's digest."""
    body = {"principal": SUPERVISOR, **predicate}
    digest = hashlib.sha256(canonical_json(body)).hexdigest()
    return [Subject(subject, digest)], body


def append_health_record(
    ledger: Ledger, predicate_type: str, subject: str, predicate: Mapping[str, Any]
) -> Entry:
    """One signed record (see :func:`health_record`)."""
    subjects, body = health_record(subject, predicate)
    return ledger.append(subjects=subjects, predicate_type=predicate_type, predicate=body)
