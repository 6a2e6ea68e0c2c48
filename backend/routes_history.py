"""History, ad-hoc SQL, export, alerts and the snapshot: the routes of issue 5."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.exceptions import ClientException, NotFoundException, ValidationException
from litestar.params import Parameter
from litestar.response import Stream

from backend.alerts import COMPARISONS, SEVERITIES, validate_rule
from backend.auth import requires
from backend.webhooks import allowed_hosts, redact, refused_target
from backend.timeparams import RangeName, parse_time, time_range
from storage import alerts as alert_store
from storage import history as history_store
from storage.alert_metrics import METRICS, SCOPE_KINDS
from storage.export import FORMATS, started, store_producer, stream_from_thread
from storage.sandbox import SqlFailed, SqlRejected, SqlTimedOut, run_select
from storage.schema_doc import EXAMPLE_QUERIES, describe_schema
from storage.snapshot import snapshot_frames
from storage.store import ReadPreempted

Dataset = Literal["workers", "tasks", "samples", "samples_minute", "samples_hour"]
Limit = Annotated[int, Parameter(ge=1, le=1000)]


class SqlRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of POST /api/sql."""

    sql: str
    limit: int = 1000


def _settings(request: Request) -> Any:
    return request.app.state.settings


@get("/api/history", guards=[requires("user")])
async def history(request: Request, range_: RangeName | None = Parameter(query="range", default=None),
                  start: str | None = None, end: str | None = None, worker: str | None = None,
                  hardware: str | None = None) -> dict[str, Any]:
    """Resources, task outcomes, workers and hardware breakdown for a range, from the fitting tier."""
    since, until = time_range(range_, start, end)
    settings = _settings(request)
    return await request.app.state.store.read(lambda cur: history_store.history(
        cur, since, until, time.time(), settings.raw_retention, settings.minute_retention, worker, hardware))


@post("/api/sql", guards=[requires("admin")], status_code=200)
async def sql(request: Request, data: SqlRequest) -> dict[str, Any]:
    """One read-only SELECT, time- and row-limited; errors carry DuckDB's message."""
    settings = _settings(request)
    limit = max(1, min(data.limit, settings.sql_max_rows))
    await request.app.state.ingest.fold()  # SQL sees every acknowledged event, not a tick-old state
    try:
        result = await request.app.state.store.read_expendable(
            lambda cur: run_select(cur, data.sql, limit, settings.sql_timeout, settings.sql_max_bytes))
    except SqlRejected as error:
        raise ClientException(f"rejected: {error}", extra={"reason": "rejected"}) from None
    except SqlTimedOut as error:
        raise ClientException(str(error), extra={"reason": "timeout"}) from None
    except ReadPreempted as error:
        raise ClientException(str(error), extra={"reason": "memory"}) from None
    except SqlFailed as error:
        raise ClientException(str(error), extra={"reason": "error"}) from None
    return result.as_dict()


@get("/api/sql/schema", guards=[requires("user")])
async def sql_schema(request: Request) -> dict[str, Any]:
    """Tables, columns with a one-line meaning each, and example queries for the SQL page."""
    tables = await request.app.state.store.read(describe_schema)
    return {"tables": tables, "examples": EXAMPLE_QUERIES}


@get("/api/export/{dataset:str}", guards=[requires("user")])
async def export(request: Request, dataset: Dataset, format_: Literal["csv", "parquet"] = Parameter(
        query="format", default="csv"), start: str | None = None, end: str | None = None) -> Stream:
    """The dataset within [start, end) streamed batch by batch, never built in memory."""
    since, until = _optional_range(start, end)
    await request.app.state.ingest.fold()
    produce = store_producer(request.app.state.store, dataset, format_, since, until)
    filename = f"{dataset}.{format_}"
    return Stream(await started(stream_from_thread(produce)), media_type=FORMATS[format_],
                  headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _optional_range(start: str | None, end: str | None) -> tuple[float | None, float | None]:
    """Export bounds are optional on both sides."""
    since = parse_time(start, "start") if start else None
    until = parse_time(end, "end") if end else None
    if since is not None and until is not None and since >= until:
        raise ValidationException("start: must be before end")
    return since, until


@post("/api/admin/snapshot", guards=[requires("admin")], status_code=200)
async def snapshot(request: Request) -> Stream:
    """A consistent copy of every table but credentials, for `python -m backend snapshot`."""
    store = request.app.state.store
    await request.app.state.ingest.fold()

    def produce():
        cursor = store.cursor()
        try:
            yield from snapshot_frames(cursor)
        finally:
            cursor.close()

    return Stream(stream_from_thread(produce), media_type="application/octet-stream")


class AlertController(Controller):
    """Alerts (users read and acknowledge) and their rules (admins manage)."""

    path = "/api/alerts"
    guards = [requires("user")]

    @get("/")
    async def list_alerts(self, request: Request, state_: Literal["all", "firing", "resolved"] = Parameter(
                          query="state", default="all"),
                          limit: Limit = 100, offset: Annotated[int, Parameter(ge=0)] = 0) -> Response[list[dict]]:
        rows, total = await request.app.state.store.read(lambda cur: alert_store.list_alerts(cur, state_, limit, offset))
        return Response(rows, headers={"X-Total-Count": str(total), "Access-Control-Expose-Headers": "X-Total-Count"})

    @post("/{alert_id:int}/ack", status_code=200)
    async def acknowledge(self, request: Request, alert_id: int) -> dict[str, Any]:
        store, name = request.app.state.store, request.user.name
        if not await store.write(lambda con: alert_store.acknowledge(con, alert_id, name)):
            raise NotFoundException(f"no alert {alert_id}")
        await request.app.state.hub.refresh_if_watched()  # the banners drop it now, not at the next tick
        return await store.read(lambda cur: alert_store.get_alert(cur, alert_id))

    @get("/meta")
    async def meta(self) -> dict[str, Any]:
        """Vocabulary for the rule form: metrics, comparisons, severities, scopes per metric."""
        scopes = {metric: sorted(kinds) for metric, kinds in SCOPE_KINDS.items()}
        return {"metrics": METRICS, "comparisons": list(COMPARISONS), "severities": list(SEVERITIES), "scopes": scopes}

    @get("/rules")
    async def list_rules(self, request: Request) -> list[dict[str, Any]]:
        """Webhook URLs carry keys: only admins see them whole, others see where they point."""
        rules = await request.app.state.store.read(alert_store.list_rules)
        return [_shown(rule, request.user.role == "admin") for rule in rules]

    @post("/rules", guards=[requires("admin")], status_code=201)
    async def create_rule(self, request: Request, data: dict[str, Any]) -> dict[str, Any]:
        rule = await _valid_target(request, _valid(data, partial=False))
        store = request.app.state.store
        rule_id = await store.write(lambda con: alert_store.insert_rule(con, rule))
        return await store.read(lambda cur: alert_store.get_rule(cur, rule_id))

    @patch("/rules/{rule_id:int}", guards=[requires("admin")])
    async def update_rule(self, request: Request, rule_id: int, data: dict[str, Any]) -> dict[str, Any]:
        store = request.app.state.store
        current = await store.read(lambda cur: alert_store.get_rule(cur, rule_id))
        if current is None:
            raise NotFoundException(f"no rule {rule_id}")
        changes = await _valid_target(request, _valid({**current, **data}, partial=False))
        await store.write(lambda con: alert_store.update_rule(con, rule_id, changes))
        return await store.read(lambda cur: alert_store.get_rule(cur, rule_id))

    @delete("/rules/{rule_id:int}", guards=[requires("admin")], status_code=200)
    async def delete_rule(self, request: Request, rule_id: int) -> dict[str, Any]:
        if not await request.app.state.store.write(lambda con: alert_store.delete_rule(con, rule_id)):
            raise NotFoundException(f"no rule {rule_id}")
        return {"deleted": rule_id}

    @get("/deliveries", guards=[requires("admin")])
    async def deliveries(self, request: Request, limit: Limit = 100) -> list[dict[str, Any]]:
        return await request.app.state.store.read(lambda cur: alert_store.list_deliveries(cur, limit))


def _shown(rule: dict[str, Any], whole: bool) -> dict[str, Any]:
    url = rule.get("webhook_url")
    return {**rule, "webhook_url": url if whole or not url else redact(url), "webhook_set": bool(url)}


async def _valid_target(request: Request, rule: dict[str, Any]) -> dict[str, Any]:
    """A webhook must point at a public address (or a host the settings allow)."""
    url = rule.get("webhook_url")
    refused = await refused_target(url, allowed_hosts(_settings(request).webhook_allow_hosts)) if url else None
    if refused:
        raise ValidationException(f"webhook_url: {refused}", extra={"field": "webhook_url"})
    return rule


def _valid(data: dict[str, Any], partial: bool) -> dict[str, Any]:
    """validate_rule with its message turned into a 400 naming the field."""
    try:
        return validate_rule(data, partial=partial)
    except ValueError as error:
        raise ValidationException(str(error), extra={"field": str(error).split(":")[0]}) from None


ROUTE_HANDLERS = [history, sql, sql_schema, export, snapshot, AlertController]
