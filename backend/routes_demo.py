"""Admin routes behind the dashboard's "Start demo fleet" button: a real local Dask cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import ValidationException

from backend.auth import requires


class DemoStart(msgspec.Struct):
    workers: int = msgspec.field(default=3)


def _runner(state: State):
    return state.get("demo")


def stop_demo(state: State) -> None:
    """At shutdown: the demo's cluster lives in this process."""
    runner = _runner(state)
    if runner is not None and runner.running:
        runner.stop()


class DemoController(Controller):
    """One demo per server; it reports through the ingest API like any other fleet."""

    path = "/api/demo"
    guards = [requires("admin")]

    @get("/")
    async def status(self, request: Request) -> dict[str, Any]:
        runner = _runner(request.app.state)
        return runner.status() if runner else {"running": False, "workers": 0, "started_at": None}

    @post("/start", status_code=200)
    async def start(self, request: Request, data: DemoStart | None = None) -> dict[str, Any]:
        from dtmon_reporter.demo import DemoRunner  # imports Dask: only when a demo starts
        workers = (data or DemoStart()).workers
        if not 1 <= workers <= 8:
            raise ValidationException("workers: must be between 1 and 8")
        state = request.app.state
        runner = _runner(state)
        if runner is None or not runner.running:
            token, token_id = await state.auth.create_token("ingest", "demo fleet")
            runner = DemoRunner(str(request.base_url).rstrip("/"), token, workers=workers)
            runner.token_id = token_id
            state.demo = runner
            runner.start()
        return runner.status()

    @post("/stop", status_code=200)
    async def stop(self, request: Request) -> dict[str, Any]:
        state = request.app.state
        runner = _runner(state)
        if runner is not None:
            await asyncio.to_thread(runner.stop)
            await state.auth.revoke("id", runner.token_id)
        return runner.status() if runner else {"running": False, "workers": 0, "started_at": None}


ROUTE_HANDLERS = [DemoController]
