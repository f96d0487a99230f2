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
]

HEALTH_TRANSITION = predicate_type_urn("health-transition")
HEALTH_INCIDENT = predicate_type_urn("health-incident")
STORE_RESTORE = predicate_type_urn("health-store-restore")
HEALTH_TRIGGER = predicate_type_urn("health-trigger")  # a burst of security signals, contained

SUPERVISOR = "service:grace-supervisor"


def append_health_record(
    ledger: Ledger, predicate_type: str, subject: str, predicate: Mapping[str, Any]
) -> Entry:
    """One signed record; its subject is ``subject`` with the digest of the predicate."""
    body = {"principal": SUPERVISOR, **predicate}
    digest = hashlib.sha256(canonical_json(body)).hexdigest()
    return ledger.append(
        subjects=[Subject(subject, digest)], predicate_type=predicate_type, predicate=body
    )
