"""Validate a whole batch, then hand it to the writer; nothing is written unless all is valid."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import msgspec

from backend import schemas
from backend.settings import Settings
from storage.ingest import apply_events, fold_heartbeats, to_arrow, unfolded_samples
from storage.store import Store

PATH = re.compile(r"`\$\.events\[(\d+)\](?:\.([A-Za-z_]+))?")
MISSING = re.compile(r"missing required field `([A-Za-z_]+)`")
FOLD_AT_ROWS = 200_000  # bounds the memory held between folds
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


def rows_by_group(events: list[schemas.Event], received: float) -> dict[str, list[tuple]]:
    """Flatten events into row tuples per storage group; bad timestamps name their event."""
    groups: dict[str, list[tuple]] = defaultdict(list)
    for index, event in enumerate(events):
        try:
            # events without ts keep their batch order, one microsecond apart
            ts = _us(schemas.epoch_of(event.ts, received + index * 1e-6))
        except (ValueError, TypeError) as exc:
            raise BatchError(f"events[{index}].ts: {exc}", index, "ts") from None
        group, row = _row(event, ts)
        groups[group].append(row)
    return groups


def _row(event: schemas.Event, ts: int) -> tuple[str, tuple]:
    """One row in the column order of storage.ingest.ARROW_SCHEMAS."""
    if isinstance(event, schemas.WorkerHeartbeat):
        gpus = msgspec.json.encode(event.gpus).decode() if event.gpus else None
        return "worker_heartbeat", (ts, event.worker_id, event.cpu_percent, event.memory_used_gb,
                                    event.memory_total_gb, _percent(event.memory_used_gb, event.memory_total_gb),
                                    event.rtt_ms, event.running_tasks, gpus)
    if isinstance(event, schemas.WorkerRegister):
        return "worker_register", (ts, event.worker_id, event.hostname, sorted({h.lower() for h in event.hardware}),
                                   json.dumps(event.capabilities, default=str))
    if isinstance(event, schemas.WorkerOffline):
        return "worker_offline", (ts, event.worker_id)
    if isinstance(event, schemas.Link):
        return "link", (ts, event.source, event.target, event.rtt_ms, event.bandwidth_bps)
    return "task", _task_row(event, ts)


def _task_row(event: schemas.Event, ts: int) -> tuple:
    kind = type(event).__struct_config__.tag
    if isinstance(event, schemas.TaskSubmitted):
        requirements = sorted({name.lower() for name in event.requirements})
        return ts, event.task_id, kind, event.type, event.priority, requirements, None, None, None, None
    if isinstance(event, schemas.TaskFinished):
        return ts, event.task_id, kind, None, None, None, event.worker_id, event.status, event.error, event.duration_s
    return ts, event.task_id, kind, None, None, None, event.worker_id, None, None, None


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
        self._unfolded: list = []
        self._unfolded_rows = 0
        self._fold_lock = asyncio.Lock()

    async def ingest_body(self, body: bytes) -> tuple[int, Any]:
        """Decode, validate and commit one request body; returns (accepted, batch id)."""
        try:
            batch = decode_batch(body)
            return await self.ingest(batch), batch.id
        except BatchError:
            self.batches_rejected += 1
            raise

    async def ingest(self, batch: schemas.IngestBatch) -> int:
        now = time.time()
        groups = rows_by_group(batch.events, now)
        if not groups:
            return 0
        write = apply_events(to_arrow(groups), _us(now), self.settings.offline_after, self._committed)
        counts = await self.store.write(write)
        self._count(counts, groups)
        if self._unfolded_rows >= FOLD_AT_ROWS:
            await self.fold()
        return len(batch.events)

    def _committed(self, heartbeats) -> None:
        """Called by the writer thread under the store's commit lock, right after COMMIT."""
        self._unfolded.append(heartbeats)
        self._unfolded_rows += heartbeats.num_rows

    async def fold(self) -> int:
        """Bring the workers' current state up to the samples appended so far (cheap when none)."""
        async with self._fold_lock:  # a reader arriving mid-fold waits for it to commit
            with self.store.commit_lock:  # no batch half visible: committed means handed over here
                tables, self._unfolded, self._unfolded_rows = self._unfolded, [], 0
            if not tables:
                return 0
            return await self.store.write(fold_heartbeats(tables, _us(time.time()), self.settings.offline_after))

    async def recover(self) -> int:
        """At start: fold samples a crash left unfolded (they were committed, so acknowledged)."""
        leftover = await self.store.read(unfolded_samples)
        if leftover.num_rows:
            with self.store.commit_lock:
                self._committed(leftover)
        return await self.fold()

    def _count(self, counts: dict[str, int], groups: dict[str, list[tuple]]) -> None:
        for group, n in counts.items():
            self.events_accepted[group] += n
        samples = groups.get("worker_heartbeat")
        if samples:
            oldest = min(row[0] for row in samples) / 1_000_000  # ts is the first column
            self.dirty_since = oldest if self.dirty_since is None else min(self.dirty_since, oldest)

    def take_dirty_since(self) -> float | None:
        """Oldest sample time written since the last rollup (late data re-rolls its buckets)."""
        oldest, self.dirty_since = self.dirty_since, None
        return oldest
