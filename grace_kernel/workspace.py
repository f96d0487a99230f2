"""A Grace workspace: the ``.grace`` directory, wired from :class:`Settings`.

This is the thin I/O shell over the ledger's pure core: it creates the
directory with private permissions, opens the key store, the SQLite store and
the witness, and offers the operations the CLI and notebooks share (attest,
verify, export, status).  Open it as a context manager so a clean shutdown
writes the final checkpoint.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from grace_kernel._resources import seeded_policy_dir
from grace_kernel.config import Settings
from grace_kernel.errors import (
    GraceEnvironmentError,
    InputError,
    IntegrityError,
    KeyStoreError,
    MalformedRecordError,
    StoreError,
)
from grace_kernel.events import CheckpointWritten, DecisionBlocked, EventBus, GuardBlocked
from grace_kernel.governance import ApprovalStore, Governance, PolicyEngine
from grace_kernel.hunter._alerts import AlertStore
from grace_kernel.ledger import (
    Checkpoint,
    Entry,
    FileKeyStore,
    FileWitness,
    Ledger,
    LedgerStore,
    SQLiteLedgerStore,
    Subject,
    VerificationLog,
    VerificationRun,
    VerifyReport,
    predicate_type_urn,
    verify_log,
)
from grace_kernel.quarantine import Quarantine
from grace_kernel.store import SQLiteTables

__all__ = ["ATTESTATION", "Workspace", "current_user", "file_subject", "verify_store"]

ATTESTATION = predicate_type_urn("attestation")
_log = logging.getLogger(__name__)
_CHUNK = 1 << 20


def file_subject(path: Path, *, base: Path | None = None) -> Subject:
    """A subject for a file: its path (relative to ``base`` when inside it) and SHA-256."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory; attest the files inside it") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    resolved = path.resolve()
    name = str(resolved)
    if base is not None and resolved.is_relative_to(base.resolve()):
        name = resolved.relative_to(base.resolve()).as_posix()
    return Subject(name, digest.hexdigest())


class Workspace:
    """The ``.grace`` directory and the ledger inside it."""

    def __init__(self, settings: Settings, ledger: Ledger, keys: FileKeyStore) -> None:
        self.settings = settings
        self.ledger = ledger
        self.keys = keys
        self.witness = FileWitness(settings.witness_path)
        self.events = EventBus()
        ledger.on_checkpoint = lambda c: self.events.emit(
            CheckpointWritten(origin=c.origin, size=c.size, root=c.root.hex())
        )
        self._governance: Governance | None = None
        self._alerts: AlertStore | None = None
        self._quarantine: Quarantine | None = None
        self._verifications: VerificationLog | None = None
        self._attached: list[SQLiteTables] = []  # other subsystems' tables (see attach_tables)
        # Set by a health supervisor: its in-memory mode wins over the stored one, so
        # governance sees a transition at once, even while the store cannot record it.
        self.mode_source: Callable[[], str] | None = None

    @property
    def alerts(self) -> AlertStore:
        """Alerts and tasks; blocked governance decisions arrive here as alerts."""
        if self._alerts is None:
            self._alerts = AlertStore(self.settings.db_path, ledger=self.ledger, events=self.events)
        return self._alerts

    @property
    def verifications(self) -> VerificationLog:
        """The history of full ledger verifications (:meth:`verify` adds to it)."""
        if self._verifications is None:
            self._verifications = VerificationLog(self.settings.db_path)
        return self._verifications

    @property
    def quarantine(self) -> Quarantine:
        """Files moved out of the workspace into ``.grace/quarantine`` (ungoverned mechanism)."""
        if self._quarantine is None:
            self._quarantine = Quarantine(
                root=self.root,
                home=self.settings.home,
                ledger=self.ledger,
                db_path=self.settings.db_path,
            )
        return self._quarantine

    @property
    def governance(self) -> Governance:
        """The governed path for this workspace (policies loaded on first use)."""
        if self._governance is None:
            engine = PolicyEngine(
                seeded_dir=self.settings.policy_dir or seeded_policy_dir(),
                override_dir=self.settings.override_policy_dir,
                events=self.events,
            )
            self._governance = Governance(
                engine=engine,
                ledger=self.ledger,
                approvals=ApprovalStore(self.settings.db_path),
                events=self.events,
                mode=self.health_mode,
                approval_ttl=self.settings.approval_ttl,
            )
            self.events.subscribe(DecisionBlocked, self.alerts.on_decision_blocked)
            self.events.subscribe(GuardBlocked, self.alerts.on_guard_blocked)
        return self._governance

    def health_mode(self) -> str:
        """normal | degraded | safe | lockdown: the attached supervisor's, else the stored one."""
        if self.mode_source is not None:
            return self.mode_source()
        with self.ledger.store.read() as txn:
            return txn.get_meta("health.mode") or "normal"

    @contextlib.contextmanager
    def store_offline(self) -> Iterator[None]:
        """Close every connection to the database for the block, then reopen them all.

        The health supervisor replaces a damaged database file inside this
        block; closing first matters, because SQLite removes a database's
        ``-wal``/``-shm`` files *by name* when its last connection closes.
        """
        store = self.ledger.store
        if not isinstance(store, SQLiteLedgerStore):
            raise InputError(f"the ledger store {store.location} cannot be taken offline")
        with contextlib.ExitStack() as stack:
            stack.enter_context(store.offline())
            if self._governance is not None:
                stack.enter_context(self._governance.approvals.offline())
            if self._alerts is not None:
                stack.enter_context(self._alerts.offline())
            if self._quarantine is not None:
                stack.enter_context(self._quarantine.index.offline())
            if self._verifications is not None:
                stack.enter_context(self._verifications.offline())
            for tables in self._attached:
                stack.enter_context(tables.offline())
            yield

    def attach_tables(self, tables: SQLiteTables) -> None:
        """A subsystem opened outside the workspace (e.g. knowledge) has a connection too:
        :meth:`store_offline` must close it as well.  Detach it when it closes."""
        self._attached.append(tables)

    def detach_tables(self, tables: SQLiteTables) -> None:
        with contextlib.suppress(ValueError):
            self._attached.remove(tables)

    @classmethod
    def open(cls, settings: Settings, *, create: bool = True) -> Workspace:
        home = settings.home
        if not home.is_dir():
            if not create:
                raise GraceEnvironmentError(
                    f"no Grace workspace at {home}",
                    hint="run `grace init` here, or set GRACE_HOME to an existing workspace",
                )
            try:
                home.mkdir(mode=0o700, parents=True)
            except OSError as exc:
                raise GraceEnvironmentError(f"cannot create {home}: {exc.strerror}") from None
        keys = FileKeyStore(settings.keys_dir)
        store = SQLiteLedgerStore(settings.db_path, sync=settings.sync)
        try:
            _refuse_refounding(settings, store)
            ledger = Ledger(
                store=store,
                keys=keys,
                checkpoint_every=settings.checkpoint_every,
                checkpoint_interval=settings.checkpoint_interval,
                witness=FileWitness(settings.witness_path),
            )
        except BaseException:
            store.close()
            raise
        return cls(settings, ledger, keys)

    def close(self) -> None:
        try:
            if self._governance is not None:
                self._governance.approvals.close()
            if self._alerts is not None:
                self._alerts.close()
            if self._quarantine is not None:
                self._quarantine.close()
            if self._verifications is not None:
                self._verifications.close()
        finally:
            self.ledger.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def root(self) -> Path:
        """The directory the workspace belongs to (paths in records are relative to it)."""
        return self.settings.home.parent

    def attest(
        self,
        paths: Sequence[Path],
        *,
        predicate_type: str = ATTESTATION,
        predicate: Mapping[str, Any] | None = None,
        principal: str | None = None,
    ) -> Entry:
        """Record the SHA-256 of each file (plus an optional predicate) as one signed record."""
        if not paths:
            raise InputError("attest needs at least one file")
        subjects = [file_subject(p, base=self.root) for p in paths]
        body = dict(predicate or {})
        body.setdefault("principal", principal or f"user:{current_user()}")
        return self.ledger.append(subjects=subjects, predicate_type=predicate_type, predicate=body)

    def verify(
        self,
        *,
        progress: Callable[[int], None] | None = None,
        by: str | None = None,
        via: str = "python",
    ) -> VerifyReport:
        """Verify the whole live ledger against its checkpoints, its witness and its key files.

        The outcome joins :attr:`verifications` (``by`` defaults to the OS
        user, ``via`` names the door: cli, server, lab, python).  A store that
        cannot take the row does not hide the report: the failure is logged.
        """
        started, at = time.perf_counter(), time.time()
        report = verify_store(self.ledger.store, self.settings, progress=progress)
        if report.ok:
            checkpoints = self.ledger.store.checkpoints()
            if checkpoints:
                newest = max(checkpoints, key=lambda c: c.size)
                self.witness.advance(Checkpoint.from_text(newest.note))
        run = VerificationRun.of(
            report,
            at=at,
            seconds=time.perf_counter() - started,
            by=by or f"user:{current_user()}",
            via=via,
        )
        try:
            self.verifications.add(run)
        except StoreError as exc:
            _log.warning("the verification was not added to its history: %s", exc.message)
        return report

    def status(self) -> dict[str, Any]:
        info = self.ledger.info()
        latest = self.verifications.latest()
        engine = self.governance.engine
        active = engine.active
        info["governance"] = {
            "mode": self.health_mode(),
            "policies": len(active.policies) if active else 0,
            "policy_fingerprint": active.fingerprint if active else None,
            "policy_error": engine.last_error,
            "pending_approvals": len(self.governance.list_approvals(state="pending")),
        }
        return {
            "workspace": str(self.settings.home),
            "database": str(self.settings.db_path),
            "trust": "service",
            "trust_note": "this process holds the signing key (trusted side)",
            "sync": self.settings.sync,
            "checkpoint_every": self.settings.checkpoint_every,
            "checkpoint_interval": self.settings.checkpoint_interval,
            "last_verification": None if latest is None else latest.to_json(),
            **info,
        }


def verify_store(
    store: LedgerStore,
    settings: Settings,
    *,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify a workspace's ledger store (read-only is enough) against its checkpoints,
    its witness and the founding keys whose private halves the workspace holds."""
    try:
        files = list(settings.keys_dir.iterdir())
    except OSError as exc:
        raise KeyStoreError(f"cannot list {settings.keys_dir}: {exc.strerror}") from None
    trusted = [f.name.removesuffix(".pem") for f in files if f.suffix == ".pem"]
    checkpoints = []
    for stored in store.checkpoints():
        try:
            checkpoints.append(Checkpoint.from_text(stored.note))
        except MalformedRecordError as exc:
            with store.read() as txn:
                size = txn.size()
            return VerifyReport(
                ok=False,
                size=size,
                first_bad_index=None,
                problem=f"stored checkpoint at size {stored.size} is malformed: {exc.message}",
            )
    with store.read() as txn:
        published = txn.list_keys()
    return verify_log(
        store.iter_envelopes(),
        checkpoints,
        trusted_keyids=trusted,
        witness=FileWitness(settings.witness_path).read(),
        published_keys=published,
        progress=progress,
    )


def _refuse_refounding(settings: Settings, store: SQLiteLedgerStore) -> None:
    """An empty database in a workspace that has signed before means the ledger was lost.

    Founding a fresh ledger there would hide the loss, so refuse and say so.
    """
    with store.read() as txn:
        if txn.size():
            return
    evidence = []
    if settings.witness_path.exists():
        evidence.append(f"a witness ({settings.witness_path})")
    if settings.keys_dir.is_dir() and any(settings.keys_dir.glob("*.pem")):
        evidence.append(f"signing keys ({settings.keys_dir})")
    if evidence:
        raise IntegrityError(
            f"database {settings.db_path} holds no records, but this workspace has signed "
            f"before ({' and '.join(evidence)}): the ledger was lost or replaced",
            hint="restore the database from backup or a bundle; Grace will not found "
            "a new ledger over a lost one",
        )


def current_user() -> str:
    """The OS user running this process (its uid when the name cannot be found)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
