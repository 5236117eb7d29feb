"""Shared test helpers: the conformance vectors, a loopback server that answers what a step says and records what it
was asked, a closed port, and `tollgate dev`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO / "clients" / "conformance" / "vectors.json"


def load_vectors() -> Dict[str, Any]:
    return json.loads(VECTORS.read_text(encoding="utf-8"))


class Canned:
    """A loopback HTTP server that answers every request with ``response`` and records the requests."""

    def __init__(self) -> None:
        self.response: Optional[Dict[str, Any]] = None
        self.requests: List[Dict[str, Any]] = []
        canned = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                canned.requests.append({"method": "POST", "path": self.path, "body": body})
                r = canned.response
                if r is None:
                    r = {"status": 500, "headers": {}, "body": "this step expects no request"}
                payload = r.get("body", "").encode("utf-8")
                # send_response_only: no automatic Date header, the step's headers are sent exactly
                self.send_response_only(r["status"])
                for name, value in r.get("headers", {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def script(self, response: Optional[Dict[str, Any]]) -> None:
        self.response = response
        self.requests = []

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def canned() -> Iterator[Canned]:
    server = Canned()
    yield server
    server.close()


def closed_port_url() -> str:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def tollgate_binary() -> Optional[str]:
    path = os.environ.get("TOLLGATE_BIN") or str(REPO / "target" / "debug" / "tollgate")
    if not Path(path).exists():
        return None
    if subprocess.run([path, "dev", "--help"], capture_output=True, check=False).returncode != 0:
        return None
    return path


class Dev:
    """A running `tollgate dev --json` and its one JSON line (docs/api.md, "tollgate dev")."""

    def __init__(self, binary: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="tollgate-dev-py-")
        self.process = subprocess.Popen(
            [binary, "dev", "--listen", "127.0.0.1:0", "--dir", os.path.join(self.dir, "world"), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"tollgate dev exited ({self.process.wait()}) without its JSON line")
        self.world: Dict[str, Any] = json.loads(line)

    def outage(self, provider: str, down: bool) -> None:
        import httpx

        r = httpx.post(
            f"{self.world['server_url']}/dev/providers/{provider}/outage",
            headers={"authorization": f"Bearer {self.world['admin_token']}"},
            json={"down": down},
        )
        assert r.status_code == 204, r.text

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def dev() -> Iterator[Dev]:
    binary = tollgate_binary()
    if binary is None:
        why = "no tollgate binary with a dev command (run `cargo build -p tollgate`, or set TOLLGATE_BIN)"
        if os.environ.get("TOLLGATE_REQUIRE_E2E") == "1":
            pytest.fail(f"TOLLGATE_REQUIRE_E2E=1 but {why}")
        pytest.skip(why)
    world = Dev(binary)
    yield world
    world.stop()
