"""Quarantine: flagged files moved out of the workspace into ``.grace/quarantine``, and back.

- ``.grace/quarantine/<sha256>`` holds one private copy per distinct content
  (directory 0700, files 0600); the ``quarantine`` table of the workspace
  database indexes who moved which file, from where, why and when;
- every move in and every restore is a signed ledger record
  (``urn:grace:predicate:quarantine:v1``, ``action`` ``quarantine`` | ``restore``)
  whose subject is the file's path and digest;
- :func:`quarantine_file` and :func:`restore_file` go through governance
  (``file.quarantine``, ``file.restore``: a restore always needs another
  person's approval); :func:`quarantine_critical` is Hunter's automatic
  quarantine, which only a workspace policy can switch on;
- :class:`Quarantine` (``Workspace.quarantine``) is the ungoverned mechanism,
  crash-safe by ordering: the original is removed only after the blob, the
  index row and the record exist.
"""

from grace_kernel.quarantine._governed import (
    HUNTER,
    quarantine_critical,
    quarantine_file,
    restore_file,
)
from grace_kernel.quarantine._index import QuarantineEntry, QuarantineIndex
from grace_kernel.quarantine._store import QUARANTINE, Quarantine

__all__ = [
    "HUNTER",
    "QUARANTINE",
    "Quarantine",
    "QuarantineEntry",
    "QuarantineIndex",
    "quarantine_critical",
    "quarantine_file",
    "restore_file",
]
