"""Validate a whole batch, then hand it to the writer; nothing is written unless all is valid."""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backend import schemas
from backend.columns import GROUP_OF, BadTimestamp, tables_by_group
from backend.helper import Helpers, HelperUnavailable
from backend.settings import Settings
from storage.ingest import ApplyEvents, fold_pending, pending, unfolded
from storage.settled import SettledHistory
from storage.snapshot import ipc_stream
from storage.store import Store

PATH = re.compile(r"`\$\.events\[(\d+)\](?:\.([A-Za-z_]+))?")
MISSING = re.compile(r"missing required field `([A-Za-z_]+)`")
FOLD_AT_ROWS = 200_000  # bounds the memory held between folds
BUSY_RATE = 1_000  # events/s to fold: above it ingest is busy and a read may lag by up to LAG_TICKS ticks
LAG_TICKS = 1.5  # a backlog the tick is about to fold is not stale; one the tick has missed is
BUSY_COMMITS = 10  # commits in that second: fewer are a few large batches, which a read should see
DECODER = msgspec.json.Decoder(schemas.IngestBatch)
PREPARE_ABOVE = 16 * 1024  # body bytes (~100 heartbeats) from which a helper process decodes, not the writer
HELPERS = 2  # with one, 16 senders of 1,000-event bodies queued for it (356,000 events/s against 403,000)


@dataclass
class BatchError(Exception):
    """A rejected batch, naming the first bad event and field."""

    detail: str
    index: int | None = None
    field: str | None = None

    def extra(self) -> dict:
        return {"index": self.index, "field": self.field}

    def __reduce__(self) -> tuple:
        return BatchError, (self.detail, self.index, self.field)  # raised in the helper process, re-raised here


def decode_batch(body: bytes) -> schemas.IngestBatch:
    try:
        return DECODER.decode(body)
    except msgspec.ValidationError as exc:
        raise _validation_error(str(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BatchError(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BatchError("body is not valid JSON: nested too deeply") from None


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


def tables_of(events: list[schemas.Event], received: float, max_skew_s: float) -> dict[str, pa.Table]:
    """Arrow tables per storage group; a bad ts (unreadable, or ahead of our clock by more than the
    allowed skew) or capabilities nested too deeply name their event."""
    try:
        return tables_by_group(events, received, max_skew_s)
    except BadTimestamp as exc:
        raise BatchError(f"events[{exc.index}].{exc.field}: {exc}", exc.index, exc.field) from None


@dataclass
class Accepted:
    """What one committed body added, for its response."""

    events: int
    batch_id: Any
    counts: dict[str, int]

    @classmethod
    def of(cls, batch: schemas.IngestBatch) -> "Accepted":
        counts: dict[str, int] = defaultdict(int)
        for event in batch.events:
            counts[GROUP_OF[type(event)]] += 1
        return cls(len(batch.events), batch.id, dict(counts))


@dataclass
class RejectedBody(Exception):
    """A bad ts found while building the tables of many bodies: which body, and its error."""

    body: int
    error: BatchError


def merged_tables(batches: list[schemas.IngestBatch], received: list[float],
                  max_skew_s: float) -> dict[str, pa.Table]:
    """One Arrow pass over many bodies: with one-event bodies the per-table costs dominate."""
    if not batches:
        return {}
    sizes = np.array([len(batch.events) for batch in batches], dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    positions = np.arange(int(sizes.sum())) - np.repeat(starts, sizes)
    defaults = np.repeat(np.asarray(received), sizes) + positions * 1e-6
    try:
        return tables_by_group([event for batch in batches for event in batch.events], defaults, max_skew_s)
    except BadTimestamp as exc:
        index = int(positions[exc.index])
        body = int(np.searchsorted(starts, exc.index, side="right")) - 1
        raise RejectedBody(body, BatchError(f"events[{index}].{exc.field}: {exc}", index, exc.field)) from None


def prepare_body(body: bytes, received: float, max_skew_s: float) -> tuple[Accepted, dict[str, bytes]]:
    """In the helper process: the body's response and its tables as Arrow IPC streams, which the
    server reads back in microseconds (a pickled table took longer to load than to build)."""
    batch = decode_batch(body)
    tables = tables_of(batch.events, received, max_skew_s)
    return Accepted.of(batch), {group: ipc_stream(table) for group, table in tables.items()}


class BodyWrite:
    """Request bodies decoded on the writer thread itself, then applied in one Arrow and SQL pass.

    Every DuckDB call of the writer takes the GIL several times; decoding on the event loop held it
    for milliseconds at a stretch and stalled those calls. One thread doing both never waits.
    """

    def __init__(self, bodies: list[tuple[bytes, float]], offline_after_s: float,
                 on_commit: Callable[[dict[str, pa.Table]], None], max_skew_s: float = Settings.max_clock_skew) -> None:
        self.bodies, self.offline_after_s, self.on_commit = bodies, offline_after_s, on_commit
        self.size = sum(len(body) for body, _ in bodies)  # the store waits for more while groups are small
        self.max_skew_s = max_skew_s
        self._applied: ApplyEvents | None = None

    @classmethod
    def merge(cls, writes: list["BodyWrite"]) -> "BodyWrite":
        first = writes[0]
        return cls([body for write in writes for body in write.bodies], first.offline_after_s, first.on_commit,
                   first.max_skew_s)

    def __call__(self, con: Any) -> Accepted | BatchError | list[Accepted | BatchError]:
        """A rejected body is returned as its error, so it fails alone and the others commit."""
        outcomes = [_decoded(body) for body, _ in self.bodies]
        tables = self._tables(outcomes)
        if tables:
            self._applied = ApplyEvents(tables, _us(max(received for _, received in self.bodies)),
                                        self.offline_after_s, self.on_commit)
            self._applied(con)
        results = [outcome if isinstance(outcome, BatchError) else Accepted.of(outcome) for outcome in outcomes]
        return results if len(results) > 1 else results[0]

    def _tables(self, outcomes: list[schemas.IngestBatch | BatchError]) -> dict[str, pa.Table]:
        """Tables of the valid bodies; a body with a bad ts turns into its error (rare: retried without it)."""
        while True:
            valid = [i for i, outcome in enumerate(outcomes) if not isinstance(outcome, BatchError)]
            try:
                received = [self.bodies[i][1] for i in valid]
                return merged_tables([outcomes[i] for i in valid], received, self.max_skew_s)
            except RejectedBody as rejected:
                outcomes[valid[rejected.body]] = rejected.error

    def after_commit(self) -> None:
        if self._applied is not None:
            self._applied.after_commit()


def _decoded(body: bytes) -> schemas.IngestBatch | BatchError:
    try:
        return decode_batch(body)
    except BatchError as error:
        return error


class IngestService:
    """Turns a request body into a committed write and keeps the ingest counters."""

    def __init__(self, store: Store, settings: Settings) -> None:
        # pyarrow imports pandas on its first numpy conversion (~1 s): pay it at start, not in a request
        tables_by_group([schemas.WorkerHeartbeat(worker_id="warm-up")], time.time())
        self.store = store
        self.settings = settings
        self.events_accepted: dict[str, int] = defaultdict(int)
        self.batches_rejected = 0
        self.settled = SettledHistory()  # told of late samples as they commit
        self.dirty_since: float | None = None
        self._unfolded: dict[str, list[pa.Table]] = defaultdict(list)
        self._unfolded_rows = 0
        self._unfolded_since: float | None = None  # monotonic time of the oldest commit not yet folded
        self._rate_since, self._rate_rows, self.fold_rate = time.monotonic(), 0, 0.0  # events/s to fold, per second
        self._rate_commits, self._last_commit = 0, 0.0
        self._fold_lock = asyncio.Lock()
        self.helpers = Helpers(HELPERS, ("backend.ingest",))

    async def ingest_body(self, body: bytes) -> tuple[int, Any]:
        """Decode, validate and commit one request body; returns (accepted, batch id)."""
        try:
            accepted = await (self._ingest_large(body) if len(body) > PREPARE_ABOVE else self._ingest_small(body))
        except BatchError:
            self.batches_rejected += 1
            raise
        await self._fold_if_large()
        return accepted.events, accepted.batch_id

    async def _ingest_small(self, body: bytes) -> Accepted:
        return await self.store.write(BodyWrite([(body, time.time())], self.settings.offline_after, self._committed,
                                                self.settings.max_clock_skew))

    async def _ingest_large(self, body: bytes) -> Accepted:
        """Decoded in a helper process while the writer commits earlier bodies; the tables then
        join a commit group like any write, and the answer still waits for their COMMIT."""
        received = time.time()
        try:
            accepted, streams = await self.helpers.run(prepare_body, body, received, self.settings.max_clock_skew)
        except HelperUnavailable:  # starting, or died (killed, out of memory): the writer decodes this one
            return await self._ingest_small(body)
        tables = {group: pa.ipc.open_stream(stream).read_all() for group, stream in streams.items()}
        if tables:
            await self.store.write(ApplyEvents(tables, _us(received), self.settings.offline_after, self._committed))
        return accepted

    async def ingest(self, batch: schemas.IngestBatch) -> int:
        """Commit a batch the caller decoded (in-process writers such as the benchmarks)."""
        tables = tables_of(batch.events, time.time(), self.settings.max_clock_skew)
        if tables:
            await self.store.write(ApplyEvents(tables, _us(time.time()), self.settings.offline_after, self._committed))
            await self._fold_if_large()
        return len(batch.events)

    async def _fold_if_large(self) -> None:
        if self._unfolded_rows >= FOLD_AT_ROWS:
            await self.fold()

    def _committed(self, tables: dict[str, pa.Table]) -> None:
        """Called by the writer thread under the store's commit lock, right after COMMIT."""
        for group, table in tables.items():
            self.events_accepted[group] += table.num_rows
        samples = tables.get("worker_heartbeat")
        if samples is not None:
            oldest = pc.min(samples.column("ts")).value / 1_000_000
            self.dirty_since = oldest if self.dirty_since is None else min(self.dirty_since, oldest)
            self.settled.late(oldest)
        self._hand_to_fold(pending(tables))

    def _hand_to_fold(self, tables: dict[str, pa.Table]) -> None:
        if tables and self._unfolded_since is None:
            self._unfolded_since = time.monotonic()
        for group, table in tables.items():
            self._unfolded[group].append(table)
            self._unfolded_rows += table.num_rows
        # measured as commits arrive, not as folds run: a burst counts as busy within a second
        self._measure_rate(sum(table.num_rows for table in tables.values()))

    async def fold(self) -> int:
        """Bring the workers' current state up to the batches committed so far (cheap when none)."""
        async with self._fold_lock:  # a reader arriving mid-fold waits for it to commit
            with self.store.commit_lock:  # no batch half visible: committed means handed over here
                pending = self._unfolded
                self._unfolded, self._unfolded_rows, self._unfolded_since = defaultdict(list), 0, None
            if not pending:
                return 0
            return await self.store.write(fold_pending(pending, _us(time.time()), self.settings.offline_after))

    async def fold_for_read(self) -> bool:
        """Fold before a read of current state, so it sees every acknowledged event; while ingest is
        busy, leave a backlog younger than LAG_TICKS ticks to the tick's fold: a fold costs a read tens
        of milliseconds, and the live view already shows state as old as one tick. Returns whether the
        read is current (False: it may lag, as the tick's shared snapshot does)."""
        since = self._unfolded_since
        young = since is not None and time.monotonic() - since < self.max_lag_s
        if young and self.busy:
            return False
        await self.fold()
        return True

    @property
    def max_lag_s(self) -> float:
        """How old a busy read's answer may be."""
        return LAG_TICKS * self.settings.tick_interval

    @property
    def busy(self) -> bool:
        """Events reach the fold faster than BUSY_RATE, and still did within the last second."""
        return self.fold_rate > BUSY_RATE and time.monotonic() - self._last_commit < 1.0

    def _measure_rate(self, rows: int) -> None:
        """Events/s reaching the fold over at least a second: one large batch is not a busy stream."""
        self._rate_rows += rows
        self._rate_commits += 1
        self._last_commit = time.monotonic()
        elapsed = time.monotonic() - self._rate_since
        if elapsed >= 1.0:
            self.fold_rate = self._rate_rows / elapsed if self._rate_commits >= BUSY_COMMITS else 0.0
            self._rate_since, self._rate_rows, self._rate_commits = time.monotonic(), 0, 0

    async def recover(self) -> int:
        """At start: fold what a crash left unfolded (it was committed, so acknowledged)."""
        leftover = await self.store.read(unfolded)
        with self.store.commit_lock:
            self._hand_to_fold(leftover)
        return await self.fold()

    def take_dirty_since(self) -> float | None:
        """Oldest sample time written since the last rollup (late data re-rolls its buckets)."""
        with self.store.commit_lock:  # the writer thread moves it on commit
            oldest, self.dirty_since = self.dirty_since, None
        return oldest
