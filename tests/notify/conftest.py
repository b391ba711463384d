"""A local HTTP server that records every request (a remote Git host cannot run here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from syncd.daemon.notify import notifier


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: dict

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class Recorder:
    """Records calls; answers each with the next of ``responses`` (then ``default``)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.responses: list[int] = []
        self.default = 201
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                with recorder._lock:
                    recorder.calls.append(
                        Call(
                            "POST", self.path, dict(self.headers.items()), json.loads(raw or b"{}")
                        )
                    )
                    code = recorder.responses.pop(0) if recorder.responses else recorder.default
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_notifier_outlives_its_test() -> Iterator[None]:
    yield
    notifier.close_all()


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("s3cr3t-token-value\n")
    path.chmod(0o600)
    return path
