"""Trust scoring: a catalog of known publishers plus signals from the document itself.

The pure core of ingestion's trust: :class:`Evidence` is everything a model may
look at (no I/O), a :class:`TrustModel` turns it into a :class:`TrustScore` in
[0, 1] with one :class:`Signal` per reason.  :class:`HeuristicTrustModel` is
today's model; a learned one replaces it behind the same one-method protocol.

The score is the catalog prior of the publisher plus the signed contribution of
each signal, clamped to [0, 1] and rounded to three decimals (policy compares
per-mille).  What the score *means* (allow, review, refuse) is policy's
business: ``data/policies/60-knowledge.cedar``.
"""

from __future__ import annotations

import dataclasses
import math
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import yaml

from grace_kernel.errors import GraceEnvironmentError, InputError
from grace_kernel.governance import Severity

__all__ = [
    "CatalogEntry",
    "Evidence",
    "HeuristicTrustModel",
    "Signal",
    "TrustCatalog",
    "TrustModel",
    "TrustScore",
    "shipped_catalog_path",
]

_PACKAGE = Path(__file__).resolve().parent.parent
_DAY = 86_400.0
_YEAR = 365.25 * _DAY

# Penalty for the most severe Hunter finding, and for each further finding (capped).
_SEVERITY_PENALTY = {
    Severity.NONE: 0.0,
    Severity.LOW: 0.02,
    Severity.MEDIUM: 0.1,
    Severity.HIGH: 0.3,
    Severity.CRITICAL: 0.5,
}
_EXTRA_FINDING_PENALTY = 0.02
_EXTRA_FINDING_CAP = 0.1
_FEEDBACK_STEP = 0.05
_FEEDBACK_CAP = 0.15


def shipped_catalog_path() -> Path:
    """``grace_kernel/_data/trusted_sources.yaml`` in a wheel, ``data/...`` in a checkout."""
    for candidate in (
        _PACKAGE / "_data" / "trusted_sources.yaml",
        _PACKAGE.parent / "data" / "trusted_sources.yaml",
    ):
        if candidate.is_file():
            return candidate
    raise GraceEnvironmentError(
        "Grace's trusted-source catalog (trusted_sources.yaml) is missing from this installation",
        hint="reinstall Grace",
    )


# ---------------------------------------------------------------------- catalog


@dataclasses.dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One known publisher: a host (and subdomains), optionally narrowed to a path prefix."""

    host: str
    path: str
    kind: str
    prior: float
    name: str
    origin: str  # the catalog file it came from

    @property
    def match(self) -> str:
        return self.host + self.path

    def matches(self, host: str, path: str) -> bool:
        host_ok = host == self.host or host.endswith("." + self.host)
        return host_ok and path.startswith(self.path)

    def to_json(self) -> dict[str, Any]:
        return {"match": self.match, "kind": self.kind, "prior": self.prior, "name": self.name}


def _prior(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InputError(f"{where}: prior must be a number in [0, 1], got {value!r}")
    return float(value)


class TrustCatalog:
    """Publisher kinds with their priors, and the sources known to be of each kind."""

    def __init__(self, kinds: Mapping[str, float], entries: Sequence[CatalogEntry]) -> None:
        for needed in ("workspace-file", "local-file", "unknown"):
            if needed not in kinds:
                raise InputError(f"the trust catalog needs a {needed!r} kind")
        self.kinds = dict(kinds)
        self.entries = tuple(entries)

    @classmethod
    def load(cls, *paths: Path) -> TrustCatalog:
        """Merge catalog files in order; a later file's kinds and entries win over earlier ones."""
        kinds: dict[str, float] = {}
        entries: list[CatalogEntry] = []
        for path in paths:
            doc = _read_yaml(path)
            for name, spec in (doc.get("kinds") or {}).items():
                if not isinstance(spec, dict):
                    raise InputError(f"{path}: kind {name!r} must be a mapping with a prior")
                kinds[str(name)] = _prior(spec.get("prior"), f"{path}: kind {name}")
            for item in doc.get("sources") or []:
                entries.append(_entry(item, kinds, str(path)))
        # Later files first, so that on equally long matches they win (sort is stable).
        ordered = list(reversed(entries))
        return cls(kinds, ordered)

    @classmethod
    def for_workspace(cls, home: Path) -> TrustCatalog:
        """The shipped catalog, plus ``<home>/trusted_sources.yaml`` when the workspace has one."""
        override = home / "trusted_sources.yaml"
        paths = [shipped_catalog_path()]
        if override.is_file():
            paths.append(override)
        return cls.load(*paths)

    def lookup(self, url: str) -> CatalogEntry | None:
        """The longest catalog entry matching ``url``'s host and path, if any."""
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        hostport = f"{host}:{parts.port}" if parts.port is not None else host
        path = parts.path or "/"
        best: CatalogEntry | None = None
        for entry in self.entries:
            target = hostport if ":" in entry.host else host
            if entry.matches(target, path) and (best is None or len(entry.match) > len(best.match)):
                best = entry
        return best

    def known_host(self, url: str) -> bool:
        entry = self.lookup(url)
        return entry is not None and entry.prior >= self.kinds["unknown"]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GraceEnvironmentError(f"cannot read trust catalog {path}: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"trust catalog {path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(f"trust catalog {path}: expected a mapping with kinds and sources")
    return doc


def _entry(item: Any, kinds: Mapping[str, float], source: str) -> CatalogEntry:
    if not isinstance(item, dict) or not item.get("match") or not item.get("kind"):
        raise InputError(f"{source}: each source needs `match` and `kind` ({item!r})")
    match = str(item["match"]).strip().lower()
    if "://" in match:
        raise InputError(f"{source}: match {match!r} is a host and path, without a scheme")
    host, slash, path = match.partition("/")
    kind = str(item["kind"])
    if kind not in kinds:
        raise InputError(f"{source}: source {match!r} has unknown kind {kind!r}")
    prior = _prior(item["prior"], f"{source}: {match}") if "prior" in item else kinds[kind]
    return CatalogEntry(
        host=host.rstrip("."),
        path=slash + path if slash else "",
        kind=kind,
        prior=prior,
        name=str(item.get("name") or match),
        origin=source,
    )


# ---------------------------------------------------------------------- evidence and scores


@dataclasses.dataclass(frozen=True, kw_only=True)
class Evidence:
    """What a trust model may know about one document (computed by the ingestion shell).

    ``origin`` is ``url``, ``api`` or ``file``; ``url`` is the final URL after
    redirects (empty for files); ``findings`` are ``(rule id, severity)`` pairs;
    ``links`` absolute link targets found in the document; ``published`` and
    ``now`` are epoch seconds; ``feedback`` is the net of people's votes on
    earlier documents from the same source.
    """

    origin: str
    url: str = ""
    loopback: bool = False
    inside_workspace: bool = False
    published: float | None = None
    now: float
    findings: tuple[tuple[str, Severity], ...] = ()
    links: tuple[str, ...] = ()
    words: int = 0
    code_chars: int = 0
    text_chars: int = 0
    feedback: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Signal:
    """One reason for a score: its name, what was observed, and how much it moved the score."""

    name: str
    observed: str
    contribution: float
    explanation: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "observed": self.observed,
            "contribution": round(self.contribution, 3),
            "explanation": self.explanation,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class TrustScore:
    """A score in [0, 1], the model that gave it, and every signal behind it."""

    score: float
    model: str
    signals: tuple[Signal, ...]

    def explain(self) -> str:
        lines = [f"trust {self.score:.3f} ({self.model})"]
        for s in self.signals:
            sign = "+" if s.contribution >= 0 else "-"
            lines.append(
                f"  {sign}{abs(s.contribution):.3f}  {s.name:<10} {s.observed}: {s.explanation}"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "model": self.model,
            "signals": [s.to_json() for s in self.signals],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TrustScore:
        return cls(
            score=float(doc["score"]),
            model=str(doc["model"]),
            signals=tuple(
                Signal(
                    str(s["name"]),
                    str(s["observed"]),
                    float(s["contribution"]),
                    str(s["explanation"]),
                )
                for s in doc.get("signals", ())
            ),
        )


class TrustModel(Protocol):
    """Anything that scores evidence; the ML issue plugs a learned model in here."""

    name: str

    def score(self, evidence: Evidence) -> TrustScore: ...


# ---------------------------------------------------------------------- the heuristic model


def _host(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower()


class HeuristicTrustModel:
    """Catalog prior plus small, explained adjustments; see docs/knowledge.md for the table."""

    name = "heuristic-v1"

    def __init__(self, catalog: TrustCatalog) -> None:
        self.catalog = catalog

    def score(self, evidence: Evidence) -> TrustScore:
        signals = [
            self._publisher(evidence),
            self._transport(evidence),
            self._age(evidence),
            self._findings(evidence),
            self._links(evidence),
            self._code(evidence),
            self._feedback(evidence),
        ]
        total = sum(s.contribution for s in signals)
        score = round(min(1.0, max(0.0, total)), 3)
        return TrustScore(score=score, model=self.name, signals=tuple(signals))

    # Each signal is one method: what it observed, its contribution, and why.

    def _publisher(self, ev: Evidence) -> Signal:
        kinds = self.catalog.kinds
        if ev.origin == "file":
            kind = "workspace-file" if ev.inside_workspace else "local-file"
            where = "inside the workspace" if ev.inside_workspace else "outside the workspace"
            return Signal("publisher", kind, kinds[kind], f"a local file {where} (prior)")
        entry = self.catalog.lookup(ev.url)
        if entry is None:
            return Signal(
                "publisher",
                f"unknown ({_host(ev.url) or 'no host'})",
                kinds["unknown"],
                "not in the trusted-source catalog (prior for unknown sources)",
            )
        return Signal(
            "publisher",
            f"{entry.kind}: {entry.name}",
            entry.prior,
            f"catalog entry {entry.match!r} ({entry.origin.rsplit('/', 1)[-1]})",
        )

    @staticmethod
    def _transport(ev: Evidence) -> Signal:
        if ev.origin == "file":
            return Signal("transport", "local file", 0.0, "read from disk, no network involved")
        scheme = urllib.parse.urlsplit(ev.url).scheme.lower()
        if scheme == "https":
            return Signal("transport", "https", 0.0, "authenticated, encrypted transport")
        if ev.loopback:
            return Signal("transport", "http (loopback)", 0.0, "plain HTTP, but on this machine")
        return Signal(
            "transport", "http", -0.1, "plain HTTP: anyone on the path could have altered it"
        )

    @staticmethod
    def _age(ev: Evidence) -> Signal:
        if ev.published is None:
            return Signal("age", "unknown", 0.0, "no publication date found")
        years = (ev.now - ev.published) / _YEAR
        if years < -1 / 12:
            return Signal("age", "in the future", -0.05, "its date is in the future")
        if years > 10:
            return Signal("age", f"{years:.0f} years", -0.1, "more than 10 years old")
        if years > 5:
            return Signal("age", f"{years:.0f} years", -0.05, "more than 5 years old")
        if years < 2:
            return Signal("age", f"{max(years, 0) * 12:.0f} months", 0.02, "recent")
        return Signal("age", f"{years:.1f} years", 0.0, "between 2 and 5 years old")

    @staticmethod
    def _findings(ev: Evidence) -> Signal:
        if not ev.findings:
            return Signal("findings", "none", 0.0, "Hunter found nothing")
        worst = max(sev for _, sev in ev.findings)
        extra = min(_EXTRA_FINDING_CAP, _EXTRA_FINDING_PENALTY * (len(ev.findings) - 1))
        rules = sorted({rule for rule, _ in ev.findings})
        shown = ", ".join(rules[:5]) + (", ..." if len(rules) > 5 else "")
        return Signal(
            "findings",
            f"{len(ev.findings)} ({worst.name.lower()})",
            -(_SEVERITY_PENALTY[worst] + extra),
            f"Hunter: {shown}",
        )

    def _links(self, ev: Evidence) -> Signal:
        links = [link for link in ev.links if link.startswith(("http://", "https://"))]
        if not links:
            return Signal("links", "none", 0.0, "no outbound links")
        hosts = {_host(link) for link in links}
        trusted = sum(1 for link in links if self.catalog.known_host(link))
        share = trusted / len(links)
        per_100_words = 100 * len(links) / max(ev.words, 1)
        observed = f"{len(links)} to {len(hosts)} hosts, {share:.0%} catalogued"
        if per_100_words > 8 and len(hosts) >= 5 and share < 0.5:
            return Signal(
                "links", observed, -0.1, "dense links to many uncatalogued hosts (a link farm)"
            )
        if len(links) >= 3 and share >= 0.5:
            return Signal("links", observed, 0.03, "mostly cites catalogued sources")
        return Signal("links", observed, 0.0, "ordinary link structure")

    def _code(self, ev: Evidence) -> Signal:
        total = max(ev.text_chars, 1)
        ratio = ev.code_chars / total
        observed = f"{ratio:.0%} code"
        catalogued = ev.origin == "file" or self.catalog.lookup(ev.url) is not None
        if ratio > 0.6 and not catalogued:
            return Signal(
                "content", observed, -0.05, "mostly code from a source the catalog does not know"
            )
        kind = "mostly code" if ratio > 0.6 else "mostly prose" if ratio < 0.4 else "mixed"
        return Signal("content", observed, 0.0, kind)

    @staticmethod
    def _feedback(ev: Evidence) -> Signal:
        if ev.feedback == 0:
            return Signal("feedback", "none", 0.0, "no votes on this source yet")
        value = max(-_FEEDBACK_CAP, min(_FEEDBACK_CAP, _FEEDBACK_STEP * ev.feedback))
        word = "helpful" if ev.feedback > 0 else "unhelpful"
        return Signal("feedback", f"{ev.feedback:+d} net votes", value, f"people marked it {word}")


def words_and_code(text: str) -> tuple[int, int]:
    """Word count of a parsed document, and how many characters sit inside fenced blocks."""
    code = 0
    fence: str | None = None
    for line in text.split("\n"):
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            else:
                code += len(line) + 1
    return len(text.split()), code


def evidence_findings(pairs: Iterable[tuple[str, int]]) -> tuple[tuple[str, Severity], ...]:
    return tuple((rule, Severity(int(sev))) for rule, sev in pairs)


def is_finite_epoch(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0
