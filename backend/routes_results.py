"""Test and benchmark analytics: JUnit upload, flaky tests, suspect workers, quarantine, drains,
benchmark changes and their triage."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import Parameter

from backend import analytics, junit
from backend.auth import requires
from backend.ingest import BatchError
from backend.responses import listed, rejected
from backend.schemas import IngestResult, Name
from storage import benchmarks, quarantine, test_analytics
from storage.test_analytics import pair_filter
from storage.alerts import utc_now

Limit = Annotated[int, Parameter(ge=1, le=1000)]
Offset = Annotated[int, Parameter(ge=0)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class QuarantineRequest(msgspec.Struct, forbid_unknown_fields=True):
    test_id: Name
    reason: Reason
    hardware: Name | None = None


class ReleaseRequest(msgspec.Struct, forbid_unknown_fields=True):
    test_id: Name
    hardware: Name | None = None


class DrainRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class TriageRequest(msgspec.Struct, forbid_unknown_fields=True):
    benchmark: Name
    hardware: Name
    change_run: Name
    state: Literal["untriaged", "expected", "regression"]


def paged(rows: list[dict], limit: int, offset: int) -> Response[list[dict]]:
    return listed(rows[offset:offset + limit], len(rows))


async def read(request: Request, reader: analytics.Reader) -> Any:
    return await request.app.state.store.read(reader)


async def suspects(request: Request) -> list[dict[str, Any]]:
    found = (await request.app.state.analytics.current()).suspects
    return await read(request, lambda cur: analytics.with_drains(cur, found))


class TestsController(Controller):
    """Per-hardware test analytics (user role); quarantine changes need an admin."""

    path = "/api/tests"
    guards = [requires("user")]

    @get("/flaky")
    async def flaky(self, request: Request, hardware: str | None = None, search: str = "",
                    verdict: Literal["flaky", "broken", "stable", "too_few_runs"] | None = None,
                    limit: Limit = 50, offset: Offset = 0) -> Response[list[dict]]:
        pairs, where = (await request.app.state.analytics.current()).pairs, pair_filter(hardware, search.strip(), verdict)
        return listed(*await read(request, lambda cur: test_analytics.flaky_pairs(cur, pairs, where, limit, offset)))

    @get("/matrix")
    async def matrix(self, request: Request, hardware: str | None = None, search: str = "", limit: Limit = 50,
                     offset: Offset = 0) -> Response[list[dict]]:
        pairs, where = (await request.app.state.analytics.current()).pairs, pair_filter(hardware, search.strip())
        return listed(*await read(request, lambda cur: test_analytics.matrix(cur, pairs, where, limit, offset)))

    @get("/failure-groups")
    async def failure_groups(self, request: Request, hardware: str | None = None, search: str = "",
                             limit: Limit = 50, offset: Offset = 0) -> Response[list[dict]]:
        reader = analytics.failure_groups(request.app.state.settings, hardware, search.strip(), limit, offset)
        return listed(*await read(request, reader))

    @get("/history")
    async def history(self, request: Request, test_id: str, hardware: str | None = None,
                      limit: Limit = 200) -> list[dict]:
        return await read(request, lambda cur: test_analytics.history(cur, test_id, hardware, limit))

    @get("/suspect-workers")
    async def suspect_workers(self, request: Request, hardware: str | None = None, worker: str | None = None,
                              all_: bool = Parameter(query="all", default=False), limit: Limit = 100,
                              offset: Offset = 0) -> Response[list[dict]]:
        """Suspects only, unless all=true; most significant first."""
        rows = await suspects(request)
        rows = [r for r in rows if (all_ or r["suspect"]) and (not hardware or r["hardware"] == hardware.lower())
                and (not worker or r["worker_id"] == worker)]
        rows.sort(key=lambda r: (not r["suspect"], 1.0 if r["p_value"] is None else r["p_value"], r["worker_id"]))
        return paged(rows, limit, offset)

    @get("/workers/{worker_id:str}")
    async def worker(self, request: Request, worker_id: str) -> dict[str, Any]:
        """One worker's suspect verdict per hardware and its drained state (for the worker detail)."""
        verdicts = [r for r in await suspects(request) if r["worker_id"] == worker_id]
        drain = (await read(request, quarantine.drains)).get(worker_id)
        return {"worker_id": worker_id, "suspect": any(r["suspect"] for r in verdicts), "verdicts": verdicts,
                "drained": drain is not None, "drain": drain}

    @get("/quarantine")
    async def quarantined(self, request: Request, state_: Literal["active", "released", "all"] = Parameter(
            query="state", default="active")) -> list[dict]:
        return await read(request, lambda cur: quarantine.quarantine_list(cur, state_))

    @post("/quarantine", guards=[requires("admin")], status_code=201)
    async def quarantine(self, request: Request, data: QuarantineRequest) -> dict[str, Any]:
        hardware = (data.hardware or "").lower()
        write = quarantine.add(data.test_id, hardware, request.user.name, utc_now(), data.reason)
        if not await request.app.state.store.write(write):
            raise ClientException(f"test_id: {data.test_id!r} is already quarantined on {hardware or 'every hardware'}",
                                  status_code=409)
        return {"test_id": data.test_id, "hardware": hardware or None, "quarantined_by": request.user.name}

    @post("/quarantine/release", guards=[requires("admin")], status_code=200)
    async def release(self, request: Request, data: ReleaseRequest) -> dict[str, Any]:
        hardware = (data.hardware or "").lower()
        write = quarantine.release(data.test_id, hardware, request.user.name, utc_now(), "released by an admin")
        if not await request.app.state.store.write(write):
            raise NotFoundException(f"test_id: {data.test_id!r} is not quarantined on {hardware or 'every hardware'}")
        return {"test_id": data.test_id, "hardware": hardware or None, "released_by": request.user.name}


@put("/api/workers/{worker_id:str}/drain", guards=[requires("admin")], status_code=200)
async def drain_worker(request: Request, worker_id: str, data: DrainRequest) -> dict[str, Any]:
    """run-tests schedules nothing on a drained worker."""
    await request.app.state.store.write(quarantine.drain(worker_id, request.user.name, utc_now(), data.reason))
    return {"worker_id": worker_id, "drained": True}


@delete("/api/workers/{worker_id:str}/drain", guards=[requires("admin")], status_code=200)
async def undrain_worker(request: Request, worker_id: str) -> dict[str, Any]:
    if not await request.app.state.store.write(quarantine.undrain(worker_id)):
        raise NotFoundException(f"worker {worker_id!r} is not drained")
    return {"worker_id": worker_id, "drained": False}


@get("/api/runner/plan", guards=[requires("ingest")])
async def runner_plan(request: Request) -> dict[str, Any]:
    """Drained workers and quarantined tests, for run-tests (which holds an ingest token)."""
    return await read(request, quarantine.runner_plan)


@post("/api/results/junit", guards=[requires("ingest")], status_code=200)
async def upload_junit(request: Request, run_id: str, worker_id: str, hardware: str, commit: str | None = None,
                       branch: str | None = None) -> Response[Any]:
    """A JUnit XML report as the body; every test case becomes one test_result, all or nothing."""
    run = {key: value for key, value in (("run_id", run_id), ("worker_id", worker_id), ("hardware", hardware),
                                         ("commit", commit), ("branch", branch)) if value is not None}
    try:  # parsing thousands of cases takes a while: off the event loop
        body = await asyncio.to_thread(junit.ingest_body, await request.body(), run, time.time())
    except junit.JunitError as error:
        raise ClientException(str(error), extra={"field": "body"}) from None
    try:
        accepted, _ = await request.app.state.ingest.ingest_body(body)
    except BatchError as error:
        return rejected(error)
    return Response(IngestResult(accepted=accepted))


class BenchmarksController(Controller):
    """Benchmark series per hardware with their change points; admins triage changes."""

    path = "/api/benchmarks"
    guards = [requires("user")]

    @get("/")
    async def series(self, request: Request, benchmark: str | None = None, search: str = "",
                     hardware: str | None = None, limit: Annotated[int, Parameter(ge=1, le=200)] = 20,
                     offset: Offset = 0) -> Response[list[dict]]:
        reader = analytics.series(request.app.state.settings, benchmark, search.strip(), hardware)
        return paged(await read(request, reader), limit, offset)

    @get("/changes")
    async def changes(self, request: Request, search: str = "", hardware: str | None = None,
                      state_: Literal["untriaged", "expected", "regression"] | None = Parameter(query="state", default=None),
                      direction: Literal["worse", "better"] | None = None, limit: Limit = 100,
                      offset: Offset = 0) -> Response[list[dict]]:
        reader = analytics.changes(request.app.state.settings, search.strip(), hardware, state_, direction)
        return paged(await read(request, reader), limit, offset)

    @put("/changes/triage", guards=[requires("admin")], status_code=200)
    async def triage(self, request: Request, data: TriageRequest) -> dict[str, Any]:
        """Marks the detected change at (or within a few runs of) change_run, the run it now starts at."""
        hardware = data.hardware.lower()
        found = await read(request, analytics.triage_target(request.app.state.settings, data.benchmark, hardware,
                                                            data.change_run))
        if found is None:
            raise NotFoundException(f"change_run: {data.benchmark!r} on {hardware} has no detected change within "
                                    f"{benchmarks.TRIAGE_WINDOW} runs of {data.change_run!r}")
        change, around = found
        await request.app.state.store.write(benchmarks.set_triage(change, data.state, request.user.name, utc_now(), around))
        return msgspec.structs.asdict(data) | {"change_run": change["change_run"], "hardware": hardware,
                                               "triaged_by": request.user.name}


ROUTE_HANDLERS = [TestsController, drain_worker, undrain_worker, runner_plan, upload_junit, BenchmarksController]
