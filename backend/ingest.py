"""Validate a whole batch, then hand it to the writer; nothing is written unless all is valid."""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from backend import schemas
from backend.columns import BadTimestamp, tables_by_group
from backend.settings import Settings
from storage.ingest import apply_events, fold_heartbeats, unfolded_samples
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


def tables_of(events: list[schemas.Event], received: float) -> dict[str, pa.Table]:
    """Arrow tables per storage group; a bad ts names its event."""
    try:
        return tables_by_group(events, received)
    except BadTimestamp as exc:
        raise BatchError(f"events[{exc.index}].ts: {exc}", exc.index, "ts") from None


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
        tables = tables_of(batch.events, now)
        if not tables:
            return 0
        counts = await self.store.write(apply_events(tables, _us(now), self.settings.offline_after, self._committed))
        self._count(counts, tables.get("worker_heartbeat"))
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

    def _count(self, counts: dict[str, int], samples: pa.Table | None) -> None:
        for group, n in counts.items():
            self.events_accepted[group] += n
        if samples is not None:
            oldest = pc.min(samples.column("ts")).value / 1_000_000
            self.dirty_since = oldest if self.dirty_since is None else min(self.dirty_since, oldest)

    def take_dirty_since(self) -> float | None:
        """Oldest sample time written since the last rollup (late data re-rolls its buckets)."""
        oldest, self.dirty_since = self.dirty_since, None
        return oldest
