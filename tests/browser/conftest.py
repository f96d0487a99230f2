"""A real browser for the UI tests: Debian's Chromium driven by playwright.

The browser is the system's ``/usr/bin/chromium`` (``tools/system-packages.sh``
installs it; ``playwright install`` is never used).  Each test gets a fresh
context (its own cookies and storage); servers the tests need are started on
127.0.0.1 by :func:`serve` and stopped when the test ends.  Screenshots go to
``build/test-artifacts/`` (:func:`artifact`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"


def artifact(name: str) -> Path:
    """Where a test saves a screenshot or log for people to look at after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(
    argv: Sequence[str],
    *,
    ready_url: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
    timeout: float = 60.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process until ``ready_url`` answers (any HTTP status); stop it after."""
    out = (log or artifact(f"server-{os.getpid()}-{time.monotonic_ns()}.log")).open("wb")
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited with {process.returncode}; see {out.name}")
            try:
                urllib.request.urlopen(ready_url, timeout=2).close()  # noqa: S310 - loopback
                break
            except urllib.error.HTTPError:
                break  # it answers: up
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{ready_url} did not answer in {timeout:g} s") from None
                time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()  # jupyter_server shuts its kernels down on SIGTERM
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        out.close()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's chromium package "
            "(tools/system-packages.sh installs it, as root)"
        )
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (cookies, storage) for one test."""
    fresh = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield fresh
    finally:
        fresh.close()


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """Overrides pytest-jupyter's autouse loop fixture for the browser tests.

    Once any test module loads ``pytest_jupyter.jupyter_server`` (tests/server,
    tests/lab), its autouse ``jp_asyncio_loop`` applies to every test of the
    session. It would close the event loop that playwright's sync API is running.
    The browser tests start their servers as subprocesses and need no loop.
    """


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """Overrides pytest-jupyter's autouse server clean-up: no in-process server here."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last, after every other test and notebook.

    playwright's sync API keeps its event loop running in this thread until the
    session ends. Asyncio-based tests that came after it (pytest-jupyter's,
    nbclient's) would find a loop already running.
    """
    here = Path(__file__).resolve().parent
    items.sort(key=lambda item: item.path.resolve().is_relative_to(here))
