"""Validate a whole batch, then hand it to the writer; nothing is written unless all is valid."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass

import msgspec

from backend import schemas
from backend.settings import Settings
from storage.ingest import apply_events, to_arrow
from storage.store import Store

PATH = re.compile(r"`\$\.events\[(\d+)\](?:\.([A-Za-z_]+))?")
MISSING = re.compile(r"missing required field `([A-Za-z_]+)`")
DECODER = msgspec.json.Decoder(schemas.IngestBatch)


@dataclass
class BatchError(Exception):
    """A rejected batch, naming the first bad event and field."""

    detail: str
    index: int | None = None
    field: str | None = None

    def extra(self) -> dict:
        return {"index": self.index, "field": self.field}


def decode_batch(body: bytes) -> schemas.IngestBatch:
    try:
        return DECODER.decode(body)
    except msgspec.ValidationError as exc:
        raise _validation_error(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise BatchError(f"body is not valid JSON: {exc}") from None


def _validation_error(message: str) -> BatchError:
    match = PATH.search(message)
    if not match:
        return BatchError(message.replace("$.", ""), None, "events" if "events" in message else None)
    missing = MISSING.search(message)
    index = int(match.group(1))
    field = match.group(2) or (missing.group(1) if missing else "kind")
    reason = message.split(" - at ")[0]
    return BatchError(f"events[{index}].{field}: {reason}", index, field)


def _us(epoch: float) -> int:
    return int(round(epoch * 1_000_000))


def rows_by_group(events: list[schemas.Event], received: float) -> dict[str, list[dict]]:
    """Flatten events into rows per storage group; bad timestamps name their event."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for index, event in enumerate(events):
        try:
            # events without ts keep their batch order, one microsecond apart
            ts = _us(schemas.epoch_of(event.ts, received + index * 1e-6))
        except (ValueError, TypeError) as exc:
            raise BatchError(f"events[{index}].ts: {exc}", index, "ts") from None
        group, row = _row(event, ts)
        groups[group].append(row)
    return groups


def _row(event: schemas.Event, ts: int) -> tuple[str, dict]:
    if isinstance(event, schemas.WorkerHeartbeat):
        return "worker_heartbeat", {
            "ts": ts, "worker_id": event.worker_id, "cpu_percent": event.cpu_percent,
            "memory_used_gb": event.memory_used_gb, "memory_total_gb": event.memory_total_gb,
            "memory_percent": _percent(event.memory_used_gb, event.memory_total_gb),
            "rtt_ms": event.rtt_ms, "running_tasks": event.running_tasks,
            "gpus": msgspec.json.encode(event.gpus).decode() if event.gpus else None}
    if isinstance(event, schemas.WorkerRegister):
        return "worker_register", {
            "ts": ts, "worker_id": event.worker_id, "hostname": event.hostname,
            "hardware": sorted({name.lower() for name in event.hardware}),
            "capabilities": json.dumps(event.capabilities, default=str)}
    if isinstance(event, schemas.WorkerOffline):
        return "worker_offline", {"ts": ts, "worker_id": event.worker_id}
    if isinstance(event, schemas.Link):
        return "link", {"ts": ts, "source": event.source, "target": event.target,
                        "rtt_ms": event.rtt_ms, "bandwidth_bps": event.bandwidth_bps}
    return "task", _task_row(event, ts)


def _task_row(event: schemas.Event, ts: int) -> dict:
    row = {"ts": ts, "task_id": event.task_id, "kind": type(event).__struct_config__.tag,
           "worker_id": getattr(event, "worker_id", None)}
    if isinstance(event, schemas.TaskSubmitted):
        row.update(type=event.type, priority=event.priority,
                   requirements=sorted({name.lower() for name in event.requirements}))
    if isinstance(event, schemas.TaskFinished):
        row.update(status=event.status, error=event.error, duration_s=event.duration_s)
    return row


def _percent(used: float | None, total: float | None) -> float | None:
    if used is None or not total:
        return None
    return min(100.0, 100.0 * used / total)


class IngestService:
    """Turns a request body into a committed write and keeps the ingest counters."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.events_accepted: dict[str, int] = defaultdict(int)
        self.batches_rejected = 0
        self.dirty_since: float | None = None

    async def ingest(self, batch: schemas.IngestBatch) -> int:
        now = time.time()
        try:
            groups = rows_by_group(batch.events, now)
        except BatchError:
            self.batches_rejected += 1
            raise
        if not groups:
            return 0
        write = apply_events(to_arrow(groups), _us(now), self.settings.offline_after)
        counts = await self.store.write(write)
        self._count(counts, groups)
        return len(batch.events)

    def _count(self, counts: dict[str, int], groups: dict[str, list[dict]]) -> None:
        for group, n in counts.items():
            self.events_accepted[group] += n
        samples = groups.get("worker_heartbeat")
        if samples:
            oldest = min(row["ts"] for row in samples) / 1_000_000
            self.dirty_since = oldest if self.dirty_since is None else min(self.dirty_since, oldest)

    def take_dirty_since(self) -> float | None:
        """Oldest sample time written since the last rollup (late data re-rolls its buckets)."""
        oldest, self.dirty_since = self.dirty_since, None
        return oldest
