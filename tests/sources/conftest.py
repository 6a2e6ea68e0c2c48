"""Fixtures for the worker-side sources: a recording ingest receiver, polling helpers, live-API queries.

The receiver is a real local HTTP server for client behaviour the backend cannot be made to show
on demand (a 413, a 422 on a chosen event, a scripted outage); everything else uses the real backend.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import httpx
import pytest

from support import bearer

Responder = Callable[[list[dict]], tuple[int, dict]]


def accept_all(events: list[dict]) -> tuple[int, dict]:
    return 200, {"accepted": len(events)}


class Receiver:
    """Records every accepted event; `respond` decides the answer to each batch."""

    def __init__(self, respond: Responder = accept_all) -> None:
        self.respond = respond
        self.events: list[dict] = []
        self.requests = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def kinds(self) -> list[str]:
        with self.lock:
            return [event["kind"] for event in self.events]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._reply(200, {"status": "ok"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    receiver.requests += 1
                    status, answer = receiver.respond(body["events"])
                    if 200 <= status < 300:
                        receiver.events.extend(body["events"])
                self._reply(status, answer)

            def _reply(self, status: int, answer: dict) -> None:
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def eventually(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Polls until check() returns something truthy; fails with the last value seen."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    assert value, f"condition not met within {timeout} s (last value {value!r})"
    return value


def sql_rows(backend: Any, sql: str) -> list[list]:
    """Reads the backend's own tables through the admin SQL endpoint."""
    response = httpx.post(f"{backend.url}/api/sql", json={"sql": sql, "limit": 10000},
                          headers=bearer(backend.admin_token), timeout=30)
    response.raise_for_status()
    return response.json()["rows"]


@pytest.fixture
def make_receiver():
    made: list[Receiver] = []

    def make(respond: Responder = accept_all) -> Receiver:
        made.append(Receiver(respond))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def helpers():
    """Plain functions the tests share (conftest modules are not importable in importlib mode)."""
    return type("Helpers", (), {"eventually": staticmethod(eventually), "sql_rows": staticmethod(sql_rows)})


@pytest.fixture
def cluster():
    """Two one-thread workers with the dtmon preload, in this process."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                      preload=["dtmon_reporter.dask_worker"], preload_argv=["--no-dtmon-browser-probe"]) as cluster:
        yield cluster
