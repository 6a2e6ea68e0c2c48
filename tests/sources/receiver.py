"""A real local HTTP server that records ingest batches, for client behaviour the backend cannot be made to show
on demand (a 413, a 422 on a chosen event, a scripted outage)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

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
