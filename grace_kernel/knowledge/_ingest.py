"""Ingestion through the governed path, and the knowledge base people use.

For each item: fetch (a governed ``file.read``, ``net.connect`` or
``api.call``) → parse → chunk → Hunter → trust score → the governed
``knowledge.ingest`` decision → store.  An allowed item is stored approved; one
that needs approval is stored *pending* (visible to reviewers, never
searchable) with the approval request's id; a refused one is not stored at all
(the decision record says why).

Storing is crash-safe by ordering, as the quarantine is: (1) blobs are written
(temporary file, fsync, rename), (2) the document row and all its chunk rows
commit in one transaction, unrecorded, (3) the signed ``knowledge-ingest``
record is appended, (4) the row is marked recorded.  A row without a record is
never searchable; ingesting the same content again finishes it.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import hashlib
import json
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grace_kernel.errors import GraceError, InputError, PolicyError
from grace_kernel.governance import (
    Action,
    ActionKind,
    ApprovalRequired,
    Decision,
    PolicyDenied,
    Principal,
    PrincipalType,
    facts_for,
    path_facts,
    trust_facts,
)
from grace_kernel.hunter import Finding, Scanner, summarize
from grace_kernel.knowledge._chunk import Chunk, chunk_text
from grace_kernel.knowledge._fetch import Fetched, FetchLimits, fetch_url, read_file
from grace_kernel.knowledge._index import Document, KnowledgeIndex, StoredChunk, new_id
from grace_kernel.knowledge._parse import Parsed, detect_kind, parse
from grace_kernel.knowledge._search import BM25Search, SearchHit
from grace_kernel.knowledge._trust import (
    Evidence,
    HeuristicTrustModel,
    TrustCatalog,
    TrustModel,
    TrustScore,
    words_and_code,
)
from grace_kernel.ledger import Subject, predicate_type_urn
from grace_kernel.store import BlobStore

if TYPE_CHECKING:
    from grace_kernel.governance import Governance
    from grace_kernel.workspace import Workspace

__all__ = ["KNOWLEDGE_INGEST", "IngestOutcome", "KnowledgeBase", "select_items"]

KNOWLEDGE_INGEST = predicate_type_urn("knowledge-ingest")

_ITEM_TITLE = ("title", "name", "headline", "subject")
_ITEM_BODY = ("body", "text", "content", "description", "summary", "abstract")
_ITEM_LINK = ("url", "link", "html_url", "href")
_ITEM_ID = ("id", "uid", "key", "slug")


@dataclasses.dataclass(frozen=True)
class IngestOutcome:
    """What happened to one item of a batch.

    ``status``: ``stored`` (approved and searchable), ``pending`` (stored,
    waiting for a person's approval), ``unchanged`` (same content as the
    newest version: nothing done), ``denied`` (refused by policy, nothing
    stored), ``awaiting_approval`` (the *fetch* needs an approval first) or
    ``error`` (bad input or an unusable source; ``message`` says what).
    """

    target: str
    status: str
    document: Document | None = None
    message: str = ""
    hint: str | None = None
    approval_id: str | None = None
    trust: TrustScore | None = None
    findings: int = 0
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return self.status in {"stored", "pending", "unchanged"}

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "status": self.status,
            "id": self.document.id if self.document else None,
            "version": self.document.version if self.document else None,
            "state": self.document.state if self.document else None,
            "message": self.message,
            "hint": self.hint,
            "approval_id": self.approval_id,
            "trust": self.trust.to_json() if self.trust else None,
            "findings": self.findings,
        }


# ---------------------------------------------------------------------- API items


def _path_tokens(path: str) -> list[str | int | None]:
    """``$.data.items[*].post`` → ["data", "items", None, "post"] (None = every element)."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    tokens: list[str | int | None] = []
    for part in text.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("[") and part.endswith("]"):
            inner = part[1:-1].strip()
            if inner == "*":
                tokens.append(None)
            elif inner.lstrip("-").isdigit():
                tokens.append(int(inner))
            else:
                tokens.append(inner.strip("'\""))
        else:
            tokens.append(part)
    return tokens


def select_items(doc: Any, path: str) -> list[Any]:
    """The items a JSONPath subset selects: ``$``, ``.name``, ``[n]``, ``['name']``, ``[*]``.

    A path that ends on a list (``$.items``) selects its elements.
    """
    nodes: list[Any] = [doc]
    tokens = _path_tokens(path)
    for token in tokens:
        following: list[Any] = []
        for node in nodes:
            if token is None:
                if isinstance(node, list):
                    following.extend(node)
                elif isinstance(node, dict):
                    following.extend(node.values())
            elif isinstance(token, int):
                if isinstance(node, list) and -len(node) <= token < len(node):
                    following.append(node[token])
            elif isinstance(node, dict) and token in node:
                following.append(node[token])
        nodes = following
    if (not tokens or tokens[-1] is not None) and len(nodes) == 1 and isinstance(nodes[0], list):
        nodes = list(nodes[0])
    if not nodes:
        raise InputError(f"the items path {path!r} selects nothing in the response")
    return nodes


def _item_markdown(item: Any, index: int) -> tuple[str, str, str]:
    """(item key, Markdown text, the item's own link) for one API item."""
    if isinstance(item, str):
        return str(index), item, ""
    if not isinstance(item, dict):
        return str(index), json.dumps(item, indent=1, sort_keys=True), ""

    def first(names: Sequence[str]) -> str:
        for name in names:
            value = item.get(name)
            scalar = isinstance(value, str | int | float) and not isinstance(value, bool)
            if scalar and str(value).strip():
                return str(value).strip()
        return ""

    key = first(_ITEM_ID) or str(index)
    title, body, link = first(_ITEM_TITLE), first(_ITEM_BODY), first(_ITEM_LINK)
    if not body:
        body = "\n".join(
            f"- {k}: {v}"
            for k, v in sorted(item.items())
            if isinstance(v, str | int | float) and not isinstance(v, bool) and k not in _ITEM_TITLE
        )
    text = (f"# {title}\n\n" if title else "") + body + "\n"
    return key, text, link


# ---------------------------------------------------------------------- the knowledge base


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _finding_json(finding: Finding, where: str) -> dict[str, Any]:
    return {
        "rule_id": finding.rule.id,
        "title": finding.rule.title,
        "category": finding.rule.category,
        "severity": finding.effective_severity.name.lower(),
        "severity_level": int(finding.effective_severity),
        "line": finding.line,
        "snippet": finding.snippet[:240],
        "where": where,
    }


@dataclasses.dataclass(frozen=True)
class _Item:
    """One fetched item, ready to parse."""

    target: str
    source: str  # the stable name versions are tracked under
    origin: str  # file | url | api
    fetched: Fetched
    kind: str
    base_url: str
    final_url: str
    loopback: bool = False
    inside_workspace: bool = False
    source_key: str = ""  # who feedback is about: the host, or the file path


class KnowledgeBase:
    """Ingestion, review and search of a workspace's knowledge (open with :meth:`open`).

    ``catalog`` defaults to the shipped catalog plus the workspace's
    ``.grace/trusted_sources.yaml``; ``model`` to :class:`HeuristicTrustModel`.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        catalog: TrustCatalog | None = None,
        model: TrustModel | None = None,
        limits: FetchLimits | None = None,
        scanner: Scanner | None = None,
        clock: Callable[[], float] = time.time,
        max_chunk_chars: int = 1500,
    ) -> None:
        self.workspace = workspace
        self.catalog = catalog or TrustCatalog.for_workspace(workspace.settings.home)
        self.model: TrustModel = model or HeuristicTrustModel(self.catalog)
        self.limits = limits or FetchLimits()
        self.index = KnowledgeIndex(workspace.settings.db_path)
        workspace.attach_tables(self.index)  # closed too while health restores the database
        self.blobs = BlobStore(workspace.settings.home / "knowledge", kind="knowledge")
        self._scanner = scanner
        self._clock = clock
        self._max_chunk = max_chunk_chars
        self._search = BM25Search(self.index)

    @classmethod
    def open(cls, workspace: Workspace, **kwargs: Any) -> KnowledgeBase:
        return cls(workspace, **kwargs)

    def close(self) -> None:
        self.workspace.detach_tables(self.index)
        self.index.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def scanner(self) -> Scanner:
        if self._scanner is None:
            self._scanner = Scanner()
        return self._scanner

    @property
    def _gov(self) -> Governance:
        return self.workspace.governance

    # ------------------------------------------------------------------ ingesting

    def ingest(
        self,
        targets: Iterable[str | Path],
        *,
        principal: Principal,
        progress: Callable[[IngestOutcome], None] | None = None,
    ) -> list[IngestOutcome]:
        """Ingest files and URLs one by one; a bad item is reported and the batch goes on."""
        outcomes = []
        for target in targets:
            outcome = self._guarded(str(target), functools.partial(self._one, target, principal))
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
        return outcomes

    def ingest_api(
        self,
        url: str,
        *,
        items: str,
        principal: Principal,
        progress: Callable[[IngestOutcome], None] | None = None,
    ) -> list[IngestOutcome]:
        """Fetch a JSON endpoint (a governed ``api.call``); ingest each item ``items`` selects."""
        try:
            found = list(self._api_items(url, items, principal))
        except GraceError as exc:
            outcome = self._failure(url, exc)
            if progress is not None:
                progress(outcome)
            return [outcome]
        outcomes = []
        for item in found:
            outcome = self._guarded(
                item.target, functools.partial(self._store_item, item, principal)
            )
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
        return outcomes

    def _guarded(self, target: str, work: Callable[[], IngestOutcome]) -> IngestOutcome:
        try:
            return work()
        except GraceError as exc:
            return self._failure(target, exc)

    @staticmethod
    def _failure(target: str, exc: GraceError) -> IngestOutcome:
        if isinstance(exc, ApprovalRequired):
            return IngestOutcome(
                target,
                "awaiting_approval",
                message=exc.message,
                hint=f"another person runs `grace approvals approve {exc.approval_id}`, "
                "then ingest again",
                approval_id=exc.approval_id,
                exit_code=exc.exit_code,
            )
        if isinstance(exc, PolicyDenied):
            return IngestOutcome(
                target, "denied", message=exc.message, hint=exc.hint, exit_code=exc.exit_code
            )
        return IngestOutcome(
            target, "error", message=exc.message, hint=exc.hint, exit_code=exc.exit_code
        )

    def _one(self, target: str | Path, principal: Principal) -> IngestOutcome:
        text = str(target)
        if text.lower().startswith(("http://", "https://")):
            return self._store_item(self._fetch_url(text, principal), principal)
        if "://" in text:
            raise InputError(f"{text}: only files and http(s) URLs can be ingested")
        return self._store_item(self._read_path(Path(text), principal), principal)

    def _read_path(self, path: Path, principal: Principal) -> _Item:
        root = self.workspace.root
        raw = path if path.is_absolute() else root / path
        facts = path_facts(raw, workspace=root)
        if facts["in_grace_dir"]:
            raise InputError(f"{path} is inside .grace/ (Grace's own files are never ingested)")
        kind = detect_kind(raw.name)
        action = Action(
            kind=ActionKind.FILE_READ,
            principal=principal,
            resource=facts["path"],
            facts=facts,
            detail={"purpose": "knowledge.ingest"},
        )
        with self._gov.governed(action):
            fetched = read_file(raw, self.limits)
        return _Item(
            target=str(path),
            source=facts["path"],
            origin="file",
            fetched=fetched,
            kind=kind,
            base_url="",
            final_url="",
            inside_workspace=bool(facts["inside_workspace"]),
            source_key=f"file:{facts['path']}",
        )

    def _gate(self, kind: ActionKind, principal: Principal) -> Callable[[str], Any]:
        root = self.workspace.root

        def gate(url: str) -> Any:
            parts = urllib.parse.urlsplit(url)
            origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
            return self._gov.governed(
                Action(
                    kind=kind,
                    principal=principal,
                    resource=origin,
                    facts=facts_for(kind.value, url, workspace=root),
                    detail={"url": url, "purpose": "knowledge.ingest"},
                )
            )

        return gate

    def _fetch_url(self, url: str, principal: Principal) -> _Item:
        url = urllib.parse.urldefrag(url.strip())[0]
        fetched = fetch_url(url, self.limits, gate=self._gate(ActionKind.NET_CONNECT, principal))
        kind = detect_kind(fetched.final, fetched.content_type)
        host = urllib.parse.urlsplit(fetched.final).hostname or ""
        return _Item(
            target=url,
            source=url,
            origin="url",
            fetched=fetched,
            kind=kind,
            base_url=fetched.final,
            final_url=fetched.final,
            loopback=bool(
                facts_for("net.connect", fetched.final, workspace=self.workspace.root)["loopback"]
            ),
            source_key=host.lower(),
        )

    def _api_items(self, url: str, items: str, principal: Principal) -> Iterator[_Item]:
        url = urllib.parse.urldefrag(url.strip())[0]
        fetched = fetch_url(
            url,
            self.limits,
            gate=self._gate(ActionKind.API_CALL, principal),
            accept=frozenset({"application/json"}),
        )
        try:
            doc = json.loads(fetched.data.decode(fetched.charset or "utf-8"))
        except (UnicodeDecodeError, LookupError, json.JSONDecodeError) as exc:
            raise InputError(f"{url}: the response is not JSON ({exc})") from None
        host = (urllib.parse.urlsplit(fetched.final).hostname or "").lower()
        loopback = bool(
            facts_for("net.connect", fetched.final, workspace=self.workspace.root)["loopback"]
        )
        for index, item in enumerate(select_items(doc, items)):
            key, _, link = _item_markdown(item, index)
            data = json.dumps(item, sort_keys=True, separators=(",", ":")).encode()
            yield _Item(
                target=f"{url} {items}[{key}]",
                source=f"{url}#{items}[{key}]",
                origin="api",
                fetched=dataclasses.replace(fetched, data=data, content_type="application/json"),
                kind="api-item",
                base_url=link or fetched.final,
                final_url=link or fetched.final,
                loopback=loopback,
                source_key=host,
            )

    # ------------------------------------------------------------------ one item

    def _parse_item(self, item: _Item) -> Parsed:
        if item.kind == "api-item":
            _, text, _ = _item_markdown(json.loads(item.fetched.data), 0)
            title = text.split("\n", 1)[0].removeprefix("# ").strip()
            return Parsed(
                text=text,
                title=title if text.startswith("# ") else item.source,
                parser="api-item (json)",
                links=(item.final_url,) if item.final_url != item.fetched.final else (),
            )
        return parse(
            item.fetched.data,
            kind=item.kind,
            name=item.fetched.final,
            charset=item.fetched.charset,
            base_url=item.base_url,
        )

    def _scan(
        self, parsed: Parsed, chunks: Sequence[Chunk]
    ) -> tuple[list[list[dict[str, Any]]], list[Finding], list[dict[str, Any]]]:
        """Hunter over each chunk (heading included) and, for HTML, the raw page."""
        per_chunk: list[list[dict[str, Any]]] = []
        everything: list[Finding] = []
        doc_level: list[dict[str, Any]] = []
        for chunk in chunks:
            text = (f"# {chunk.heading}\n\n" if chunk.heading else "") + chunk.text
            found = self.scanner.scan_code(text, kind="text")
            everything.extend(found)
            rows = [_finding_json(f, f"chunk {chunk.seq}") for f in found]
            per_chunk.append(rows)
            doc_level.extend(rows)
        if parsed.raw_text is not None:
            seen = {f.rule.id for f in everything}
            for finding in self.scanner.scan_code(parsed.raw_text, kind="text"):
                if finding.rule.id not in seen:
                    everything.append(finding)
                    doc_level.append(_finding_json(finding, "source"))
        return per_chunk, everything, doc_level

    def _store_item(self, item: _Item, principal: Principal) -> IngestOutcome:
        digest = _sha256(item.fetched.data)
        latest = self.index.latest(item.source)
        if latest is not None and latest.sha256 == digest and latest.state != "forgotten":
            return self._unchanged(item, latest)
        parsed = self._parse_item(item)
        chunks = chunk_text(parsed.text, max_chars=self._max_chunk)
        if not chunks:
            raise InputError(f"{item.target}: no text to ingest")
        per_chunk, findings, doc_findings = self._scan(parsed, chunks)
        words, code = words_and_code(parsed.text)
        now = self._clock()
        evidence = Evidence(
            origin="file" if item.origin == "file" else item.origin,
            url=item.final_url if item.origin != "api" else item.fetched.final,
            loopback=item.loopback,
            inside_workspace=item.inside_workspace,
            # A file's mtime says when it was copied, not published; a server's Last-Modified
            # is the best a web page offers when the page itself names no date.
            published=parsed.published
            if item.origin == "file"
            else (parsed.published or item.fetched.last_modified),
            now=now,
            findings=tuple((f.rule.id, f.effective_severity) for f in findings),
            links=parsed.links,
            words=words,
            code_chars=code,
            text_chars=len(parsed.text),
            feedback=self.index.feedback(item.source_key),
        )
        trust = self.model.score(evidence)
        action = Action(
            kind=ActionKind.KNOWLEDGE_INGEST,
            principal=principal,
            resource=item.source,
            facts={**trust_facts(trust.score), "sha256": digest},
            findings=summarize(findings),
            detail={
                "title": parsed.title[:200],
                "parser": parsed.parser,
                "trust_model": trust.model,
            },
        )
        count = len(doc_findings)

        def store(decision: Decision, state: str) -> Document:
            return self._store(
                item,
                parsed,
                chunks,
                per_chunk,
                doc_findings,
                trust,
                digest,
                latest,
                principal,
                decision,
                now,
                state=state,
            )

        try:
            with self._gov.governed(action) as decision:
                doc = store(decision, "approved")
            return IngestOutcome(item.target, "stored", document=doc, trust=trust, findings=count)
        except ApprovalRequired as exc:
            doc = store(exc.decision, "pending")  # stored, never searchable until approved
            return IngestOutcome(
                item.target,
                "pending",
                document=doc,
                message=f"waiting for review (trust {trust.score:.3f}): request {exc.approval_id}",
                hint=f"another person runs `grace knowledge approve {doc.id}` "
                f"(or `grace approvals approve {exc.approval_id}`)",
                approval_id=exc.approval_id,
                trust=trust,
                findings=count,
            )
        except PolicyDenied as exc:
            return IngestOutcome(
                item.target,
                "denied",
                message=f"refused (trust {trust.score:.3f}); nothing was stored",
                hint=exc.hint,
                exit_code=exc.exit_code,
                trust=trust,
                findings=count,
            )

    def _unchanged(self, item: _Item, latest: Document) -> IngestOutcome:
        doc = latest
        if doc.ingest_index is None:  # stored before a crash, never recorded: finish it
            doc = self._record_ingest(doc, self.index.chunks(doc.id), supersedes=[])
        doc = self._reconcile(doc)
        if doc.state == "approved":
            self._supersede(doc)
        return IngestOutcome(
            item.target,
            "unchanged",
            document=doc,
            message=f"same content as version {doc.version} ({doc.state}); nothing to do",
            trust=TrustScore.from_json(doc.trust_detail),
            findings=len(doc.findings),
        )

    def _store(
        self,
        item: _Item,
        parsed: Parsed,
        chunks: Sequence[Chunk],
        per_chunk: Sequence[list[dict[str, Any]]],
        doc_findings: list[dict[str, Any]],
        trust: TrustScore,
        digest: str,
        latest: Document | None,
        principal: Principal,
        decision: Decision,
        now: float,
        *,
        state: str,
    ) -> Document:
        text_bytes = parsed.text.encode("utf-8")
        text_digest = _sha256(text_bytes)
        self.blobs.put_bytes(item.fetched.data, sha256=digest)
        self.blobs.put_bytes(text_bytes, sha256=text_digest)
        doc = Document(
            id=new_id(),
            source=item.source,
            origin=item.origin,
            final_url=item.final_url,
            sha256=digest,
            text_sha256=text_digest,
            size=len(item.fetched.data),
            content_type=item.fetched.content_type or f"file ({item.kind})",
            parser=parsed.parser,
            title=parsed.title[:500],
            fetched_at=now,
            published_at=parsed.published,
            trust=trust.score,
            trust_detail=trust.to_json(),
            findings=doc_findings,
            state=state,
            version=(latest.version + 1) if latest else 1,
            previous_id=latest.id if latest else None,
            principal=principal.label,
            decision_id=decision.decision_id,
            approval_id=decision.approval_id,
        )
        rows = [
            (c.heading, c.kind, c.sha256, c.text, found)
            for c, found in zip(chunks, per_chunk, strict=True)
        ]
        self.index.insert(doc, rows)
        stored = self.index.chunks(doc.id)
        doc = self._record_ingest(doc, stored, supersedes=[])
        if state == "approved":
            self._supersede(doc)
        return doc

    def _record_ingest(
        self, doc: Document, chunks: Sequence[StoredChunk], *, supersedes: list[str]
    ) -> Document:
        previous = self.index.get(doc.previous_id) if doc.previous_id else None
        entry = self.workspace.ledger.append(
            subjects=[Subject(doc.source, doc.sha256), Subject(f"{doc.id}:text", doc.text_sha256)],
            predicate_type=KNOWLEDGE_INGEST,
            predicate={
                "action": "ingest",
                "id": doc.id,
                "source": doc.source,
                "origin": doc.origin,
                "final_url": doc.final_url,
                "content_type": doc.content_type,
                "parser": doc.parser,
                "title": doc.title,
                "fetched_at": doc.fetched_at,
                "version": doc.version,
                "previous": None
                if previous is None
                else {
                    "id": previous.id,
                    "sha256": previous.sha256,
                    "ledger_index": previous.ingest_index,
                },
                "state": doc.state,
                "principal": doc.principal,
                "decision_id": doc.decision_id,
                "approval_id": doc.approval_id,
                "trust": doc.trust_detail,
                "findings": [
                    {"rule_id": f["rule_id"], "severity": f["severity"], "where": f["where"]}
                    for f in doc.findings
                ],
                "chunks": [c.sha256 for c in chunks],
                "supersedes": supersedes,
            },
        )
        return self.index.update(doc.id, ingest_index=entry.index, ledger_index=entry.index)

    def _record(self, doc: Document, action: str, **fields: Any) -> Document:
        entry = self.workspace.ledger.append(
            subjects=[Subject(doc.source, doc.sha256)],
            predicate_type=KNOWLEDGE_INGEST,
            predicate={"action": action, "id": doc.id, "ingest_index": doc.ingest_index, **fields},
        )
        return self.index.update(doc.id, ledger_index=entry.index)

    def _supersede(self, doc: Document) -> None:
        """Older approved versions of the same source leave search once a newer one is approved."""
        for other in self.index.documents(state="approved"):
            if other.source == doc.source and other.version < doc.version:
                self.index.update(
                    other.id,
                    expect=("approved",),
                    state="superseded",
                    note=f"superseded by {doc.id}",
                )

    # ------------------------------------------------------------------ review

    def _reconcile(self, doc: Document) -> Document:
        """Bring a pending document in line with its approval request."""
        if doc.state != "pending" or doc.approval_id is None or doc.ingest_index is None:
            return doc
        self._gov.expire_stale()
        request = self._gov.approvals.get(doc.approval_id)
        if request.state == "approved":
            try:
                with self._gov.governed(Action.from_json(request.action)):
                    pass
            except ApprovalRequired:
                return self.index.get(doc.id)
            except PolicyDenied as exc:
                return self._decide(doc, "rejected", by=None, note=exc.message)
            return self._decide(doc, "approved", by=request.decided_by, note=request.note)
        if request.state == "used":  # consumed by a promotion that was interrupted
            return self._decide(doc, "approved", by=request.decided_by, note=request.note)
        if request.state in {"denied", "expired"}:
            return self._decide(
                doc, "rejected", by=request.decided_by, note=f"approval {request.state}"
            )
        return doc

    def _decide(self, doc: Document, state: str, *, by: str | None, note: str | None) -> Document:
        current = self.index.update(
            doc.id,
            expect=("pending",),
            state=state,
            decided_by=by,
            decided_at=self._clock(),
            note=note,
        )
        current = self._record(
            current,
            "approve" if state == "approved" else "reject",
            by=by,
            note=note,
            approval_id=doc.approval_id,
        )
        if state == "approved":
            self._supersede(current)
        return current

    def reconcile(self) -> builtins.list[Document]:
        """Promote or reject every pending document whose approval request was decided."""
        return [self._reconcile(d) for d in self.index.documents(state="pending")]

    def get(self, doc_id: str) -> Document:
        return self._reconcile(self.index.get(doc_id))

    def chunks(self, doc_id: str) -> builtins.list[StoredChunk]:
        return self.index.chunks(doc_id)

    def list(self, *, state: str | None = None) -> builtins.list[Document]:
        self.reconcile()
        return self.index.documents(state=state)

    def approve(self, doc_id: str, *, approver: Principal, note: str = "") -> Document:
        """Approve a pending document (through its approval request: never one's own)."""
        doc = self.get(doc_id)
        if doc.state != "pending" or doc.approval_id is None:
            raise InputError(f"{doc_id} is {doc.state}, not pending")
        request = self._gov.approve(doc.approval_id, approver=approver, note=note)
        if request.state != "approved":
            return self._decide(doc, "rejected", by=approver.label, note=request.note)
        return self._reconcile(self.index.get(doc_id))

    def reject(self, doc_id: str, *, by: Principal, note: str = "") -> Document:
        """Reject a pending document (denying its request), or withdraw an approved one."""
        if by.type is not PrincipalType.USER:
            raise PolicyError(f"only a person can reject knowledge, not {by.label}")
        doc = self.get(doc_id)
        if doc.state == "pending" and doc.approval_id is not None:
            request = self._gov.approvals.get(doc.approval_id)
            if request.state == "pending":
                self._gov.deny(doc.approval_id, approver=by, note=note)
            return self._decide(doc, "rejected", by=by.label, note=note or None)
        if doc.state != "approved":
            raise InputError(f"{doc_id} is {doc.state}; only pending or approved can be rejected")
        current = self.index.update(
            doc.id,
            expect=("approved",),
            state="rejected",
            decided_by=by.label,
            decided_at=self._clock(),
            note=note or None,
        )
        return self._record(current, "reject", by=by.label, note=note or None)

    def forget(self, doc_id: str, *, by: Principal, reason: str = "") -> Document:
        """Remove a document's content (text and blobs); a signed tombstone stays.

        A governed ``knowledge.forget`` on the document's source: the seeded
        policies let a person forget, never a kernel or a service, and nobody
        in safe mode or lockdown.
        """
        doc = self.index.get(doc_id)
        if doc.state == "forgotten" and doc.ledger_index is not None:
            raise InputError(f"{doc_id} is already forgotten")
        action = Action(
            kind=ActionKind.KNOWLEDGE_FORGET,
            principal=by,
            resource=doc.source,
            facts={"sha256": doc.sha256},
            detail={"id": doc.id, "version": doc.version, "state": doc.state, "reason": reason},
        )
        with self._gov.governed(action) as decision:
            if doc.state == "pending" and doc.approval_id is not None:
                request = self._gov.approvals.get(doc.approval_id)
                if request.state == "pending":
                    self._gov.deny(doc.approval_id, approver=by, note="forgotten")
            self.index.forget_content(doc.id)
            # ledger_index NULL until the tombstone is recorded: a crash in between is
            # finished by forgetting it again.
            current = self.index.update(
                doc.id,
                state="forgotten",
                decided_by=by.label,
                decided_at=self._clock(),
                note=reason or None,
                ledger_index=None,
            )
            current = self._record(
                current,
                "forget",
                by=by.label,
                reason=reason or None,
                previous_state=doc.state,
                text_sha256=doc.text_sha256,
                decision_id=decision.decision_id,
            )
            for digest in {doc.sha256, doc.text_sha256}:
                if not self.index.blob_users(digest):
                    self.blobs.remove(digest)
        return current

    def feedback(self, doc_id: str, *, by: Principal, helpful: bool) -> int:
        """Record a person's vote on a document's source; returns the source's net votes."""
        if by.type is not PrincipalType.USER:
            raise PolicyError("only a person can give feedback")
        doc = self.index.get(doc_id)
        key = _source_key(doc)
        self.index.vote(
            source_key=key,
            person=by.id,
            value=1 if helpful else -1,
            doc_id=doc.id,
            now=self._clock(),
        )
        return self.index.feedback(key)

    def text(self, doc_id: str) -> str:
        """The parsed text of a document, verified against its digest."""
        doc = self.index.get(doc_id)
        if doc.state == "forgotten":
            raise InputError(f"{doc_id} was forgotten; its content is gone")
        return self.blobs.read(doc.text_sha256).decode("utf-8")

    # ------------------------------------------------------------------ search

    def search(self, query: str, *, k: int = 5) -> builtins.list[SearchHit]:
        """The top ``k`` approved passages for ``query`` (BM25)."""
        self.reconcile()
        return self._search.search(query, k=k)


def _source_key(doc: Document) -> str:
    if doc.origin == "file":
        return f"file:{doc.source}"
    url = doc.final_url if doc.origin == "url" else doc.source
    return (urllib.parse.urlsplit(url).hostname or "").lower()


def search_readonly(db_path: Path, query: str, *, k: int = 5) -> list[SearchHit]:
    """Search without writing anything (what the kernel may do): a read-only connection."""
    index = KnowledgeIndex(db_path, readonly=True)
    try:
        return BM25Search(index).search(query, k=k)
    finally:
        index.close()
