"""Read API: /api/monitoring/* in the shapes of the original documentation, extended."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, delete, get
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Parameter

from backend import monitoring
from backend.auth import requires
from backend.responses import listed
from backend.timeparams import RangeName, time_range
from storage import queries
from storage.health import WORKER_STATUSES

Limit = Annotated[int, Parameter(ge=1, le=1000)]
Offset = Annotated[int, Parameter(ge=0)]
Order = Literal["asc", "desc"]
WorkerSort = Literal["id", "hostname", "status", "health", "cpu", "memory", "memory_percent",
                     "tasks_completed", "success_rate", "last_seen", "rtt_ms"]
TaskSort = Literal["submitted", "started", "finished", "priority", "duration", "id", "status", "type", "worker"]
TaskStatus = Literal["all", "pending", "running", "completed", "failed", "timed_out", "canceled"]
STATUS_FILTERS = {*WORKER_STATUSES, "online"}
HEALTHS = {"healthy", "warning", "critical", "unknown"}


def split(value: str | None, allowed: set[str] | None, field: str) -> list[str] | None:
    if not value:
        return None
    items = [v.strip().lower() for v in value.split(",") if v.strip()]
    bad = [v for v in items if allowed is not None and v not in allowed]
    if bad:
        raise ValidationException(f"{field}: unknown value(s) {bad}; expected some of {sorted(allowed)}")
    if "online" in items:
        items += ["active", "busy"]
    return items


async def read_current(request: Request, reader: monitoring.Reader, section: str | None = None) -> Any:
    """Fold pending heartbeats first (see IngestService.fold_for_read): the reader reads `workers`."""
    state = request.app.state
    current = await state.ingest.fold_for_read()
    if section is None:
        return await state.store.read(reader)
    return await read_shared(request, reader, section, current)


async def read_shared(request: Request, reader: monitoring.Reader, section: str, current: bool) -> Any:
    """A section of the live view: a read that may lag (not `current`) shares a recent enough answer
    (see SharedSections), and any read's answer is shared with the readers after it."""
    shared_sections = request.app.state.hub.shared
    if not current and (shared := shared_sections.get(section, request.app.state.ingest.max_lag_s)) is not None:
        return shared
    started = time.monotonic()
    answer = await request.app.state.store.read(reader)
    shared_sections.put(section, answer, started)
    return answer


async def read_committed(request: Request, reader: monitoring.Reader) -> Any:
    """For tasks, task events and samples, which each commit writes whole: a fold would change nothing
    the reader sees and cost it the fold's time (the tail of these reads under heartbeat load)."""
    return await request.app.state.store.read(reader)


class MonitoringController(Controller):
    path = "/api/monitoring"
    guards = [requires("user")]

    @get("/cluster")
    async def cluster(self, request: Request) -> dict[str, Any]:
        state = request.app.state
        return await read_current(request, monitoring.cluster(state.settings, settled=state.ingest.settled), "cluster")

    @get("/workers")
    async def workers(self, request: Request, search: str = "", status: str | None = None,
                      health: str | None = None, hardware: str | None = None, sort: WorkerSort = "id",
                      order: Order = "asc", limit: Limit = 50, offset: Offset = 0) -> Response[list[dict]]:
        where = queries.worker_filter(search.strip(), split(status, STATUS_FILTERS, "status"),
                                      split(health, HEALTHS, "health"), split(hardware, None, "hardware"))
        rows, total = await read_current(request, monitoring.worker_list(where, sort, order, limit, offset))
        return listed(rows, total)

    @get("/workers/{worker_id:str}")
    async def worker(self, request: Request, worker_id: str, range_: RangeName | None = Parameter(
            query="range", default=None), start: str | None = None, end: str | None = None) -> dict[str, Any]:
        since, until = time_range(range_, start, end)
        found = await read_current(request, monitoring.worker_detail(worker_id, since, until))
        if found is None:
            raise NotFoundException(f"no worker {worker_id!r}")
        return found

    @delete("/workers/{worker_id:str}", guards=[requires("admin")], status_code=200)
    async def remove_worker(self, request: Request, worker_id: str) -> dict[str, Any]:
        """Hides the worker from the live views and resolves its alerts; its history stays."""
        state = request.app.state
        await state.ingest.fold()
        removal = monitoring.remove_worker(worker_id, request.user.name, time.time(), state.settings.offline_after)
        removed = await state.store.write(removal)
        if removed is None:
            raise NotFoundException(f"no worker {worker_id!r}")
        await state.maintenance.evaluate_alerts()
        state.hub.shared.clear()
        await state.hub.refresh_if_watched()  # live views drop it now, not at the next tick
        return removed

    @get("/tasks")
    async def tasks(self, request: Request, status: TaskStatus = "all", type_: str = Parameter(
            query="type", default=""), worker: str = "", priority: int | None = None, search: str = "",
            sort: TaskSort = "submitted", order: Order = "desc", limit: Limit = 50,
            offset: Offset = 0) -> Response[list[dict]]:
        where = queries.task_filter(status, type_, worker, priority, search.strip())
        rows, total = await read_committed(request, monitoring.task_list(where, sort, order, limit, offset))
        return listed(rows, total)

    @get("/tasks/{task_id:path}")
    async def task(self, request: Request, task_id: str) -> dict[str, Any]:
        """Task ids may hold slashes (pytest node ids such as tests/test_x.py::test_y)."""
        task_id = task_id.lstrip("/")
        found = await read_committed(request, monitoring.task_detail(task_id))
        if found is None:
            raise NotFoundException(f"no task {task_id!r}")
        return found

    @get("/resources")
    async def resources(self, request: Request, range_: RangeName | None = Parameter(query="range", default=None),
                        start: str | None = None, end: str | None = None) -> dict[str, Any]:
        since, until = time_range(range_, start, end)
        reader = monitoring.resources(since, until, settled=request.app.state.ingest.settled)
        if start or end or range_ not in (None, "1h"):
            return await read_committed(request, reader)
        return await read_shared(request, reader, "resources", not request.app.state.ingest.busy)  # the live chart

    @get("/hardware")
    async def hardware(self, request: Request) -> list[dict]:
        return await read_current(request, monitoring.hardware(request.app.state.settings), "hardware")

    @get("/network")
    async def network(self, request: Request,
                      limit: Annotated[int, Parameter(ge=1, le=20000)] = monitoring.NETWORK_LIMIT) -> dict[str, Any]:
        section = "network" if limit == monitoring.NETWORK_LIMIT else None  # the live view's shows that many
        return await read_current(request, monitoring.network(request.app.state.settings, limit), section)
