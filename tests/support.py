"""Test helpers shared by every test folder: tokens, a live server in a thread."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from backend.app import UVICORN_OPTIONS, create_app
from backend.settings import Settings

ADMIN_PASSWORD = "test-admin-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_settings(tmp_path, **changes) -> Settings:
    """Settings on a DuckDB file in tmp_path with a fast tick."""
    base = Settings(db=str(tmp_path / "monitoring.duckdb"), admin_password=ADMIN_PASSWORD,
                    tick_interval=0.2, heartbeat_interval=5.0)
    return base.replace(**changes)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(http, base: str = "") -> str:
    response = http.post(f"{base}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    response.raise_for_status()
    return response.json()["token"]


def make_token(http, admin_token: str, role: str, base: str = "") -> str:
    response = http.post(f"{base}/api/auth/tokens", json={"role": role, "name": f"test {role}"},
                         headers=bearer(admin_token))
    response.raise_for_status()
    return response.json()["token"]


def attach_tokens(target, http, base: str = "") -> None:
    target.admin_token = login(http, base)
    target.user_token = make_token(http, target.admin_token, "user", base)
    target.ingest_token = make_token(http, target.admin_token, "ingest", base)
    target.admin_password = ADMIN_PASSWORD


@dataclass
class LiveBackend:
    """A uvicorn server in a thread on a free port; stop() and start() keep port and file."""

    settings: Settings
    port: int = field(default_factory=free_port)
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiveBackend":
        config = uvicorn.Config(create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning",
                                **UVICORN_OPTIONS)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the backend did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.thread.join(timeout=30)
            self.server = None

    def post_events(self, events: list[dict]) -> httpx.Response:
        response = httpx.post(f"{self.url}/api/ingest", json={"events": events},
                              headers=bearer(self.ingest_token), timeout=30)
        response.raise_for_status()
        return response

    def get(self, path: str, **params) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, headers=bearer(self.user_token), timeout=30)


def launch(command: list[str], env: dict, cwd: Path) -> subprocess.Popen:
    """A long-running command (dask scheduler, worker, agent) logging to cwd/<its subcommand>.log."""
    log = open(cwd / f"{command[1]}.log", "w")  # noqa: SIM115 - the child keeps writing to it
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)


def scheduler_address(scheduler_file: Path, scheduler: subprocess.Popen) -> str:
    """Waits for `dask scheduler --scheduler-file` to say where it listens."""
    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        log = (scheduler_file.parent / "scheduler.log").read_text()
        assert scheduler.poll() is None and time.monotonic() < deadline, f"scheduler did not start:\n{log}"
        time.sleep(0.2)
    time.sleep(0.2)  # the file is written in one go, but give the writer its moment
    return json.loads(scheduler_file.read_text())["address"]
