"""Parsing fetched bytes into text that keeps its structure (headings, code blocks).

Every parser produces Markdown-shaped text: ``#`` headings, fenced code blocks
with their language where known, list items and paragraphs.  That one shape is
what the chunker splits and what Hunter's text scanner understands (fenced
``python`` and shell blocks are scanned as code).  Anything malformed (bad
encoding, a truncated PDF, a notebook that is not JSON) is an
:class:`InputError` naming the problem; nothing is guessed.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import html.parser
import io
import json
import re
import urllib.parse
from typing import Any

from grace_kernel.errors import InputError

__all__ = ["KINDS", "Parsed", "decode", "detect_kind", "parse"]

KINDS = ("markdown", "text", "html", "pdf", "notebook", "python")

_SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".rst": "text",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".ipynb": "notebook",
    ".py": "python",
}
_TYPES = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/x-python": "python",
    "text/x-script.python": "python",
    "application/x-python-code": "python",
    "application/pdf": "pdf",
    "application/x-ipynb+json": "notebook",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Parsed:
    """A document as text with its structure, plus what trust scoring reads from it."""

    text: str
    title: str
    parser: str
    links: tuple[str, ...] = ()
    published: float | None = None
    raw_text: str | None = None  # the decoded source, when Hunter must also see it (HTML)


def detect_kind(name: str, content_type: str = "") -> str:
    """The parser for a source: by content type when one was given, else by file suffix."""
    if content_type:
        kind = _TYPES.get(content_type)
        if kind is None and content_type == "application/json" and name.endswith(".ipynb"):
            kind = "notebook"
        if kind is None:
            raise InputError(f"{name}: no parser for content type {content_type!r}")
        if kind == "text":  # text/plain served for a .md or .py file: trust the name
            by_name = _SUFFIXES.get(_suffix(name))
            if by_name in {"markdown", "python"}:
                return by_name
        return kind
    kind = _SUFFIXES.get(_suffix(name))
    if kind is None:
        known = ", ".join(sorted(_SUFFIXES))
        raise InputError(f"{name}: not a kind of file Grace ingests", hint=f"known: {known}")
    return kind


def _suffix(name: str) -> str:
    path = urllib.parse.urlsplit(name).path if "://" in name else name
    dot = path.rfind(".")
    return path[dot:].lower() if dot > path.rfind("/") else ""


def decode(data: bytes, charset: str | None, name: str) -> str:
    """Strict decoding (UTF-8 unless the transport said otherwise); a BOM is honoured."""
    encoding = charset or "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        encoding, data = "utf-8", data[len(codecs.BOM_UTF8) :]
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"{name}: unknown character set {encoding!r}") from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: not valid {encoding} (byte {exc.start}: {exc.reason})",
            hint="convert the file to UTF-8, or serve it with the right charset",
        ) from None
    if "\x00" in text:
        raise InputError(f"{name}: contains NUL characters; binary content is not ingested")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse(
    data: bytes, *, kind: str, name: str, charset: str | None = None, base_url: str = ""
) -> Parsed:
    """Parse one document of ``kind`` (see :func:`detect_kind`)."""
    if kind == "pdf":
        return _parse_pdf(data, name)
    text = decode(data, charset, name)
    if kind == "markdown":
        return Parsed(
            text=text,
            title=_first_heading(text) or _basename(name),
            parser="markdown",
            links=_markdown_links(text, base_url),
        )
    if kind == "text":
        return Parsed(text=text, title=_basename(name), parser="text")
    if kind == "python":
        body = text if text.endswith("\n") else text + "\n"
        return Parsed(
            text=f"# {_basename(name)}\n\n```python\n{body}```\n",
            title=_basename(name),
            parser="python",
        )
    if kind == "notebook":
        return _parse_notebook(text, name)
    if kind == "html":
        return _parse_html(text, name, base_url)
    raise InputError(f"{name}: unknown document kind {kind!r}")


def _basename(name: str) -> str:
    path = urllib.parse.urlsplit(name).path if "://" in name else name
    return path.rstrip("/").rsplit("/", 1)[-1] or name


_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_MD_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)")


def _first_heading(text: str) -> str:
    match = _HEADING.search(text)
    return match.group(1).strip() if match else ""


def _markdown_links(text: str, base_url: str) -> tuple[str, ...]:
    return tuple(urllib.parse.urljoin(base_url, m) for m in _MD_LINK.findall(text))


# ---------------------------------------------------------------------- notebooks


def _parse_notebook(text: str, name: str) -> Parsed:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: not a notebook (invalid JSON at line {exc.lineno}, column {exc.colno})"
        ) from None
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        raise InputError(f"{name}: not a notebook (no list of cells)")
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    language = "python"
    info = meta.get("language_info") if isinstance(meta, dict) else None
    if isinstance(info, dict) and isinstance(info.get("name"), str):
        language = info["name"]
    parts: list[str] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise InputError(f"{name}: cell {index} is not an object")
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str):
            raise InputError(f"{name}: cell {index} has no text source")
        if not source.strip():
            continue
        if cell.get("cell_type") == "code":
            parts.append(f"```{language}\n{source.rstrip()}\n```")
        else:
            parts.append(source.strip())
    text_out = "\n\n".join(parts) + "\n"
    return Parsed(
        text=text_out,
        title=_first_heading(text_out) or _basename(name),
        parser="notebook",
        links=_markdown_links(text_out, ""),
    )


# ---------------------------------------------------------------------- PDF


def _pdf_date(value: Any) -> float | None:
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return when.timestamp()
    return None


def _parse_pdf(data: bytes, name: str) -> Parsed:
    import pypdf  # slow to import; only PDFs need it
    from pypdf.errors import PyPdfError

    if not data.startswith(b"%PDF-"):
        raise InputError(f"{name}: not a PDF (no %PDF- header)")
    if b"%%EOF" not in data[-2048:]:
        raise InputError(
            f"{name}: truncated PDF (no %%EOF marker at the end)",
            hint="download the file again; nothing was stored",
        )
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
        if reader.is_encrypted:
            raise InputError(f"{name}: encrypted PDF; decrypt it first")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        title = str(info.title) if info is not None and info.title else ""
        published = None
        if info is not None:
            published = _pdf_date(info.modification_date) or _pdf_date(info.creation_date)
    except InputError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise InputError(f"{name}: unreadable PDF ({type(exc).__name__}: {exc})") from None
    parts = [f"## Page {n}\n\n{body.strip()}" for n, body in enumerate(pages, 1) if body.strip()]
    if not parts:
        raise InputError(f"{name}: the PDF has no extractable text (scanned images?)")
    title = title or _basename(name)
    return Parsed(
        text=f"# {title}\n\n" + "\n\n".join(parts) + "\n",
        title=title,
        parser=f"pdf (pypdf {pypdf.__version__})",
        published=published,
    )


# ---------------------------------------------------------------------- HTML

_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object"})
_BLOCK = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "nav",
        "aside",
        "blockquote",
        "table",
        "tr",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "figure",
        "figcaption",
        "form",
        "hr",
    }
)
_DATE_META = frozenset(
    {
        "article:published_time",
        "article:modified_time",
        "date",
        "dc.date",
        "dcterms.date",
        "dcterms.modified",
        "last-modified",
        "citation_publication_date",
    }
)
_LANG_CLASS = re.compile(r"(?:^|\s)(?:language|lang|highlight|sourceCode)-?([A-Za-z0-9_+-]+)")


def _iso_date(value: str) -> float | None:
    text = value.strip().replace("Z", "+00:00")
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


class _HtmlToText(html.parser.HTMLParser):
    """HTML to Markdown-shaped text: headings, paragraphs, lists, ``pre`` as fenced blocks."""

    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.out: list[str] = []
        self.links: list[str] = []
        self.title = ""
        self.published: float | None = None
        self._skip = 0
        self._in_title = False
        self._pre = 0
        self._pre_lang = ""
        self._heading: int | None = None
        self._line: list[str] = []

    # text accumulation
    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self._line)).strip()
        self._line = []
        if not text:
            return
        if self._heading is not None:
            text = "#" * self._heading + " " + text
        self.out.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (attr.get("name") or attr.get("property") or attr.get("itemprop") or "").lower()
            if key in _DATE_META and self.published is None:
                self.published = _iso_date(attr.get("content", ""))
            return
        if tag == "title":
            self._in_title = True
            return
        if tag in _SKIP:
            self._skip += 1
            return
        if self._skip:
            return
        if tag == "a" and attr.get("href"):
            href = attr["href"].strip()
            if not href.lower().startswith(("javascript:", "mailto:", "#", "data:")):
                self.links.append(urllib.parse.urljoin(self.base_url, href))
        if tag == "pre":
            self._flush()
            self._pre += 1
            match = _LANG_CLASS.search(attr.get("class", ""))
            self._pre_lang = match.group(1).lower() if match else ""
            self._line = []
            return
        if self._pre:
            if tag == "code" and not self._pre_lang:
                match = _LANG_CLASS.search(attr.get("class", ""))
                self._pre_lang = match.group(1).lower() if match else ""
            return
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self._flush()
            self._heading = int(tag[1])
        elif tag == "li":
            self._flush()
            self._line.append("- ")
        elif tag == "br" or tag in _BLOCK:
            self._flush()
        elif tag == "code":
            self._line.append("`")
        elif tag == "time" and attr.get("datetime") and self.published is None:
            self.published = _iso_date(attr["datetime"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            return
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if self._skip:
            return
        if tag == "pre" and self._pre:
            self._pre -= 1
            if not self._pre:
                body = "".join(self._line).strip("\n")
                self._line = []
                if body.strip():
                    self.out.append(f"```{self._pre_lang}\n{body}\n```")
                self._pre_lang = ""
            return
        if self._pre:
            return
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self._flush()
            self._heading = None
        elif tag == "code":
            self._line.append("`")
        elif tag in _BLOCK or tag == "li":
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip:
            return
        self._line.append(data)

    def result(self) -> str:
        self._flush()
        return "\n\n".join(self.out) + "\n"


def _parse_html(text: str, name: str, base_url: str) -> Parsed:
    parser = _HtmlToText(base_url or name)
    try:
        parser.feed(text)
        parser.close()
    except (ValueError, AssertionError) as exc:  # html.parser raises these on broken markup
        raise InputError(f"{name}: unparseable HTML ({exc})") from None
    body = parser.result()
    title = re.sub(r"\s+", " ", parser.title).strip()
    if title and not body.lstrip().startswith("# "):
        body = f"# {title}\n\n{body}"
    return Parsed(
        text=body,
        title=title or _first_heading(body) or _basename(name),
        parser="html",
        links=tuple(parser.links),
        published=parser.published,
        raw_text=text,
    )
