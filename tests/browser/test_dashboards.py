"""``grace dashboard`` in a real browser: the real command, a real Voila server and kernels,
Chromium through playwright, a workspace seeded through Grace's real APIs."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from grace_widgets.demo import SeedSummary, seed
from playwright.sync_api import BrowserContext, Page

from tests.browser.conftest import artifact, free_port, serve

GRACE = [sys.executable, "-c", "from grace_kernel.cli import main; main()"]
CULL_IDLE, CULL_INTERVAL = 3, 1


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> SeedSummary:
    return seed(tmp_path_factory.mktemp("dashboards") / ".grace", run=False)


@contextlib.contextmanager
def dashboard(name: str, home: Path, log: Path) -> Iterator[tuple[str, int]]:
    """``grace dashboard NAME`` on a free port; yields its URL (with the token) and its pid."""
    port = free_port()
    argv = [
        *GRACE,
        "dashboard",
        name,
        "--port",
        str(port),
        "--no-browser",
        "--json",
        "--cull-idle",
        str(CULL_IDLE),
        "--cull-interval",
        str(CULL_INTERVAL),
    ]
    with serve(
        argv,
        ready_url=f"http://127.0.0.1:{port}/",
        env={"GRACE_HOME": str(home)},
        log=log,
    ) as process:
        first = log.read_text(encoding="utf-8").splitlines()[0]
        info = json.loads(first)  # what `--json` prints before Voila takes over
        assert info["dashboard"] == name
        assert info["workspace"] == str(home)
        yield info["url"], process.pid


def kernels_of(pid: int) -> list[int]:
    """The kernel processes a server started (its children running ipykernel)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"ipykernel" in cmdline:
            found.append(int(entry.name))
    return found


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:g} s")
        time.sleep(0.2)


def open_dashboard(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url, timeout=60_000)
    page.wait_for_selector(".grace-dashboard", timeout=60_000)
    return page


def test_the_security_dashboard_shows_the_seeded_alerts(
    context: BrowserContext, seeded: SeedSummary
) -> None:
    log = artifact("dashboard-security-server.log")
    with dashboard("security", seeded.home, log) as (url, _pid):
        page = open_dashboard(context, url)
        page.wait_for_selector(".grace-table", timeout=30_000)
        text = page.inner_text(".grace-dashboard")
        assert "Grace · Security" in text
        assert str(seeded.home) in text
        for rule in seeded.alert_rules:  # every rule the seeded scan raised an alert for
            assert rule in text, rule
        assert "demo/etl.py" in text  # top files
        charts = page.locator(".grace-panel img")
        assert charts.count() == 2
        for i in range(2):
            width = charts.nth(i).evaluate("img => img.complete ? img.naturalWidth : 0")
            assert width > 300  # a drawn PNG, not a broken image
        assert page.locator(".grace-ticker").count() == 1  # the live timer was rendered

        # The refresh button reaches the kernel and redraws in place.
        stamp = page.inner_text(".grace-stamp")
        time.sleep(1.1)
        page.get_by_role("button", name="Refresh").click()
        wait_for(lambda: page.inner_text(".grace-stamp") != stamp, timeout=15, what="refreshed")

        shot = artifact("dashboard-security.png")
        page.screenshot(path=str(shot), full_page=True)
        page.close()


def test_a_closed_page_leaves_no_kernel_behind(
    context: BrowserContext, seeded: SeedSummary
) -> None:
    log = artifact("dashboard-culling-server.log")
    with dashboard("health", seeded.home, log) as (url, pid):
        assert kernels_of(pid) == []
        page = open_dashboard(context, url)
        page.wait_for_selector(".grace-ticker", state="attached", timeout=30_000)
        assert len(kernels_of(pid)) == 1
        # An open page keeps its kernel (it is connected) well past the idle limit.
        time.sleep(CULL_IDLE + 2 * CULL_INTERVAL + 1)
        assert len(kernels_of(pid)) == 1
        # Closed without the page's unload handlers (a crashed tab, a killed browser):
        # only the culler can reclaim the kernel.
        page.close(run_before_unload=False)
        wait_for(
            lambda: kernels_of(pid) == [],
            timeout=CULL_IDLE + CULL_INTERVAL + 20,
            what="the kernel of the closed page was not culled",
        )
        assert "with 0 connections due to" in log.read_text(encoding="utf-8")  # the culler did it

        # The server still serves new visitors afterwards.
        again = open_dashboard(context, url)
        assert "Components" in again.inner_text(".grace-dashboard")
        again.close()
