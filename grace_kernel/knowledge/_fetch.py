"""Fetching sources: local files and HTTP(S) URLs, bounded in size and time.

Every network hop is its own governed action: the caller passes ``gate(url)``,
a context manager that raises when policy refuses (``net.connect`` or
``api.call``), so a redirect to another host is decided again.  Redirects are
followed up to a limit, a loop is reported as one, and only ``http``/``https``
targets are followed.  A body larger than the limit is refused from its
``Content-Length`` before reading, or cut off as soon as the limit is passed
(never read to the end); a server slower than the deadline is abandoned.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import http.client
import os
import ssl
import stat
import time
import urllib.parse
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from grace_kernel.errors import InputError

__all__ = [
    "ACCEPTED_TYPES",
    "FetchLimits",
    "Fetched",
    "Gate",
    "fetch_url",
    "read_file",
]

Gate = Callable[[str], AbstractContextManager[object]]

ACCEPTED_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "text/plain",
        "text/markdown",
        "text/x-markdown",
        "text/x-python",
        "text/x-script.python",
        "application/x-python-code",
        "application/pdf",
        "application/json",
        "application/x-ipynb+json",
    }
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_READ = 64 * 1024
_USER_AGENT = "grace-knowledge/1 (+https://github.com/grace-workbench)"


@dataclasses.dataclass(frozen=True, kw_only=True)
class FetchLimits:
    """Hard limits for one fetch; the defaults are also the upper bounds accepted."""

    max_bytes: int = 20 * 1024 * 1024
    timeout: float = 10.0  # connecting, and each read
    deadline: float = 30.0  # the whole fetch, redirects included
    max_redirects: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.max_bytes <= 200 * 1024 * 1024:
            raise InputError("max_bytes must be between 1 byte and 200 MiB")
        if not 0 < self.timeout <= 120 or not 0 < self.deadline <= 600:
            raise InputError("timeout must be in (0, 120] s and deadline in (0, 600] s")
        if not 0 <= self.max_redirects <= 20:
            raise InputError("max_redirects must be between 0 and 20")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Fetched:
    """Bytes from a source, with what the transport said about them."""

    requested: str
    final: str  # the URL after redirects, or the resolved path
    data: bytes
    content_type: str  # MIME type without parameters ("" for files)
    charset: str | None
    last_modified: float | None
    redirects: tuple[str, ...] = ()


def read_file(path: Path, limits: FetchLimits) -> Fetched:
    """Read a regular file (no symlink as the last component, no devices), within the size limit."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{path} is a directory", hint="ingest the files inside it")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path} is not a regular file")
        if info.st_size > limits.max_bytes:
            raise InputError(
                f"{path} is {info.st_size} bytes, over the {limits.max_bytes}-byte limit"
            )
        data = handle.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise InputError(f"{path} grew past the {limits.max_bytes}-byte limit while read")
    return Fetched(
        requested=str(path),
        final=str(path),
        data=data,
        content_type="",
        charset=None,
        last_modified=info.st_mtime,
    )


def _check_url(url: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"}:
        raise InputError(f"{url}: only http and https URLs can be fetched")
    if not parts.hostname:
        raise InputError(f"{url}: no host in the URL")
    if parts.username or parts.password:
        raise InputError(f"{url}: credentials in a URL are refused (they would be recorded)")
    try:
        _ = parts.port
    except ValueError:
        raise InputError(f"{url}: bad port") from None
    return parts


def _connection(parts: urllib.parse.SplitResult, timeout: float) -> http.client.HTTPConnection:
    host = parts.hostname or ""
    if parts.scheme.lower() == "https":
        return http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    return http.client.HTTPConnection(host, parts.port, timeout=timeout)


def _media_type(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    mime, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    return mime.strip().lower(), charset


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def fetch_url(
    url: str, limits: FetchLimits, *, gate: Gate, accept: frozenset[str] = ACCEPTED_TYPES
) -> Fetched:
    """GET ``url`` through ``gate`` (one governed action per hop); follow redirects safely.

    Raises :class:`InputError` for anything the source got wrong (status,
    type, size, loops, timeouts) and lets the gate's policy errors through.
    """
    started = time.monotonic()
    seen = [url]
    current = url
    while True:
        parts = _check_url(current)
        with gate(current):
            outcome = _get(parts, current, limits, started, accept)
        if isinstance(outcome, Fetched):
            return dataclasses.replace(outcome, requested=url, redirects=tuple(seen[1:]))
        target = urllib.parse.urljoin(current, outcome)
        target, _ = urllib.parse.urldefrag(target)
        if target in seen:
            chain = " -> ".join([*seen, target])
            raise InputError(f"{url}: redirect loop ({chain})")
        if len(seen) > limits.max_redirects:
            raise InputError(f"{url}: more than {limits.max_redirects} redirects")
        seen.append(target)
        current = target


def _remaining(started: float, limits: FetchLimits, url: str) -> float:
    left = limits.deadline - (time.monotonic() - started)
    if left <= 0:
        raise InputError(f"{url}: gave up after {limits.deadline:g} s (the fetch deadline)")
    return left


def _get(
    parts: urllib.parse.SplitResult,
    url: str,
    limits: FetchLimits,
    started: float,
    accept: frozenset[str],
) -> Fetched | str:
    """One request: the fetched body, or the ``Location`` of a redirect."""
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    timeout = min(limits.timeout, _remaining(started, limits, url))
    conn = _connection(parts, timeout)
    try:
        conn.request(
            "GET",
            path,
            headers={
                "User-Agent": _USER_AGENT,
                "Accept": ", ".join(sorted(accept)) + ", */*;q=0.1",
                "Accept-Encoding": "identity",
            },
        )
        response = conn.getresponse()
        if response.status in _REDIRECTS:
            location = response.getheader("Location")
            if not location:
                raise InputError(f"{url}: redirect {response.status} without a Location")
            return location
        if response.status != 200:
            raise InputError(f"{url}: HTTP {response.status} {response.reason}")
        mime, charset = _media_type(response.getheader("Content-Type"))
        if mime not in accept:
            raise InputError(
                f"{url}: content type {mime or 'missing'!r} is not one Grace ingests",
                hint="accepted: " + ", ".join(sorted(accept)),
            )
        length = response.getheader("Content-Length")
        if length and length.strip().isdigit() and int(length) > limits.max_bytes:
            raise InputError(
                f"{url}: {int(length)} bytes announced, over the {limits.max_bytes}-byte limit"
            )
        body = _read_body(response, url, limits, started)
        return Fetched(
            requested=url,
            final=url,
            data=body,
            content_type=mime,
            charset=charset,
            last_modified=_http_date(response.getheader("Last-Modified")),
        )
    except TimeoutError:
        raise InputError(f"{url}: no answer within {timeout:g} s") from None
    except ssl.SSLError as exc:
        raise InputError(f"{url}: TLS failed: {exc.reason or exc}") from None
    except (http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(f"{url}: {reason}") from None
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def _read_body(
    response: http.client.HTTPResponse, url: str, limits: FetchLimits, started: float
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        _remaining(started, limits, url)
        chunk = response.read1(_READ) if hasattr(response, "read1") else response.read(_READ)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limits.max_bytes:
            raise InputError(f"{url}: body passed the {limits.max_bytes}-byte limit; cut off")
        chunks.append(chunk)
