"""Added latency per cell of Grace's kernel websocket, against jupyter_server's own, in one run:

    python bench/server_overhead.py [--cells N] [--json]

Two jupyter_server processes on loopback, one with the Grace extension (its
websocket connection class scans, decides and signs each cell, collects the
outputs, redacts secrets and signs a cell record) and one with the extension
disabled (the anchor: jupyter_server's ``ZMQChannelsWebsocketConnection``).
Each gets a notebook session with a plain ``python3`` kernel, so only the
server side differs.  Cell i goes to one server and then the other (the order
alternates), over the websocket as JupyterLab sends it; each is timed from
sending the request to the kernel's idle status.  "Added" is the per-cell
difference.  Target (issue 6): p50 <= 5 ms added.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import websocket
from cell_overhead import cells, paired_figures, report

TOKEN = "bench-token"  # noqa: S105  # a loopback-only server started and stopped by this run


# Both servers run jupyter_server with one change: TCP_NODELAY on kernel websockets.
# Without it, Nagle's algorithm and delayed ACKs stall a random share of cells by
# ~40 ms on loopback, on both servers alike, which would drown the difference
# being measured.
LAUNCH = """
import sys
import tornado.websocket

def _open(self, *args, **kwargs):
    self.set_nodelay(True)

tornado.websocket.WebSocketHandler.open = _open
from jupyter_server.serverapp import main
sys.argv[0] = "jupyter-server"
main()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(root: Path, *, grace: bool) -> Iterator[str]:
    """A jupyter_server on 127.0.0.1 (stopped on exit); yields its base URL."""
    port = free_port()
    args = [
        sys.executable,
        "-c",
        LAUNCH,
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={TOKEN}",
        "--ServerApp.open_browser=False",
        f"--ServerApp.jpserver_extensions=grace_kernel.server={grace}",
    ]
    if os.geteuid() == 0:
        args.append("--allow-root")
    env = {**os.environ, "GRACE_HOME": str(root / ".grace")}
    with subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as process:
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    request(base, "GET", "api/status")
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise SystemExit("a jupyter_server did not start")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


def request(base: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(  # noqa: S310  # a loopback URL this run built
        f"{base}/{path}",
        data=data,
        method=method,
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310
        text = response.read()
    return json.loads(text) if text else None


class Channel:
    """A kernel websocket speaking the JSON protocol, as a simple blocking client."""

    def __init__(self, base: str) -> None:
        session = request(
            base,
            "POST",
            "api/sessions",
            {"path": "bench.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
        )
        self.kernel_id = session["kernel"]["id"]
        self.session = uuid.uuid4().hex
        url = base.replace("http", "ws") + f"/api/kernels/{self.kernel_id}/channels"
        self.ws = websocket.create_connection(
            f"{url}?session_id={self.session}",
            header=[f"Authorization: token {TOKEN}"],
            timeout=60,
            # Small frames both ways: without this, Nagle + delayed ACKs add ~40 ms.
            sockopt=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )

    def run(self, code: str, cell_id: str) -> float:
        msg_id = uuid.uuid4().hex
        msg = {
            "channel": "shell",
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "session": self.session,
                "username": "bench",
                "version": "5.3",
                "date": "2026-01-01T00:00:00Z",
            },
            "parent_header": {},
            "metadata": {"cellId": cell_id},
            "content": {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            "buffers": [],
        }
        started = time.perf_counter()
        self.ws.send(json.dumps(msg))
        replied = idle = False
        while not (replied and idle):
            answer = json.loads(self.ws.recv())
            if answer.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = answer["header"]["msg_type"]
            if kind == "execute_reply":
                if answer["content"]["status"] != "ok":
                    raise SystemExit(f"a benchmark cell failed: {answer['content']}")
                replied = True
            idle = idle or (kind == "status" and answer["content"]["execution_state"] == "idle")
        return (time.perf_counter() - started) * 1000

    def close(self, base: str) -> None:
        self.ws.close()
        request(base, "DELETE", f"api/kernels/{self.kernel_id}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sources = cells(args.cells)
    times: dict[str, list[float]] = {"plain": [], "grace": []}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        bases = {}
        for name in ("plain", "grace"):
            root = Path(tmp) / name
            root.mkdir()
            bases[name] = stack.enter_context(server(root, grace=name == "grace"))
        channels = {name: Channel(base) for name, base in bases.items()}
        try:
            for index, code in enumerate(sources):
                order = ["plain", "grace"] if index % 2 else ["grace", "plain"]
                for name in order:
                    times[name].append(channels[name].run(code, f"cell-{index}"))
        finally:
            for name, channel in channels.items():
                channel.close(bases[name])
    report(
        paired_figures(times["plain"], times["grace"]),
        title=f"{args.cells} cells over the kernel websocket (request to idle), python3 kernels:",
        anchor="jupyter_server",
        target="p50 <= 5 ms",
        as_json=args.json,
    )


if __name__ == "__main__":
    main()
