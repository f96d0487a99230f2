"""The ingestion panel of the knowledge dashboard (``notebooks/dashboards/knowledge.ipynb``).

Unlike the other dashboards' panels it writes: ingesting and deciding are the
point of it, and both go through :class:`~grace_kernel.knowledge.KnowledgeBase`.

Submit a path or URL, review pending documents with their trust signals and
findings, approve or reject them.  Each action opens the workspace for that
action only and goes through :class:`KnowledgeBase`, so the panel decides
nothing itself: the governed path does, with the dashboard's user as the
principal (who therefore cannot approve what they submitted).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as w

from grace_kernel.config import Settings
from grace_kernel.errors import GraceError
from grace_kernel.governance import Principal
from grace_kernel.knowledge import Document, KnowledgeBase, TrustScore

__all__ = ["KnowledgePanel"]


def _escape(text: object) -> str:
    return html.escape(str(text))


def _document_html(doc: Document) -> str:
    trust = TrustScore.from_json(doc.trust_detail)
    signals = "".join(
        f"<li>{_escape(s.name)} ({_escape(s.observed)}): {s.contribution:+.3f}, "
        f"{_escape(s.explanation)}</li>"
        for s in trust.signals
    )
    findings = "".join(
        f"<li><b>{_escape(f['severity'])}</b> {_escape(f['rule_id'])} {_escape(f['title'])}"
        f" ({_escape(f['where'])}): <code>{_escape(f['snippet'][:160])}</code></li>"
        for f in doc.findings
    )
    return (
        f"<b>{_escape(doc.title)}</b> <code>{_escape(doc.id)}</code> v{doc.version}<br>"
        f"{_escape(doc.source)}<br>trust <b>{doc.trust:.3f}</b>, submitted by "
        f"{_escape(doc.principal)}, request {_escape(doc.approval_id)}"
        f"<ul>{signals}</ul>" + (f"findings:<ul>{findings}</ul>" if findings else "no findings")
    )


class KnowledgePanel:
    """ipywidgets for one workspace; ``widget`` is what the dashboard displays."""

    def __init__(self, settings: Settings, *, principal: Principal) -> None:
        self.settings = settings
        self.principal = principal
        self.target = w.Text(placeholder="a path in the workspace, or an http(s) URL")
        self.submit = w.Button(description="Ingest", button_style="primary")
        self.status = w.HTML()
        self.pending = w.VBox()
        self.submit.on_click(lambda _: self.ingest(self.target.value))
        self.widget = w.VBox(
            [
                w.HTML("<h3>Submit a source</h3>"),
                w.HBox([self.target, self.submit]),
                self.status,
                w.HTML("<h3>Waiting for review</h3>"),
                self.pending,
            ]
        )
        self.refresh()

    @contextmanager
    def _knowledge(self) -> Iterator[KnowledgeBase]:
        from grace_kernel.workspace import Workspace

        with Workspace.open(self.settings, create=False) as ws, KnowledgeBase(ws) as kb:
            yield kb

    def _run(self, action: Callable[[KnowledgeBase], str]) -> None:
        try:
            with self._knowledge() as kb:
                self.status.value = action(kb)
        except GraceError as exc:
            self.status.value = f"<pre>{_escape(exc.diagnostics())}</pre>"
        self.refresh()

    def ingest(self, target: str) -> None:
        if not target.strip():
            self.status.value = "give a path or a URL"
            return

        def act(kb: KnowledgeBase) -> str:
            (outcome,) = kb.ingest([target.strip()], principal=self.principal)
            score = f", trust {outcome.trust.score:.3f}" if outcome.trust else ""
            return _escape(f"{outcome.status}{score}: {outcome.message or outcome.target}")

        self._run(act)

    def decide(self, doc_id: str, *, approve: bool) -> None:
        def act(kb: KnowledgeBase) -> str:
            if approve:
                doc = kb.approve(doc_id, approver=self.principal)
            else:
                doc = kb.reject(doc_id, by=self.principal)
            return _escape(f"{doc.id} is {doc.state}")

        self._run(act)

    def refresh(self) -> None:
        rows: list[Any] = []
        try:
            with self._knowledge() as kb:
                docs = kb.list(state="pending")
        except GraceError as exc:
            self.pending.children = [w.HTML(f"<pre>{_escape(exc.diagnostics())}</pre>")]
            return
        for doc in docs:
            approve = w.Button(description="Approve", button_style="success")
            reject = w.Button(description="Reject", button_style="danger")
            approve.on_click(lambda _, d=doc.id: self.decide(d, approve=True))
            reject.on_click(lambda _, d=doc.id: self.decide(d, approve=False))
            rows.append(w.VBox([w.HTML(_document_html(doc)), w.HBox([approve, reject])]))
        self.pending.children = rows or [w.HTML("nothing is waiting for review")]
