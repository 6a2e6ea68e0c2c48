"""One snapshot per tick, shared by every subscriber; slow subscribers are dropped."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from backend import monitoring
from backend.schemas import iso
from backend.settings import Settings
from storage import alerts, queries
from storage.store import Store

log = logging.getLogger(__name__)
SECTIONS = ("cluster", "workers", "tasks", "resources", "hardware", "network", "alerts")
VOLATILE = {"cluster": ("generated_at",), "resources": ("start", "end")}
# The live chart's buckets are 30 s wide; re-reading an hour of raw samples every tick cost more than
# every other section together once ingest ran at 100,000 samples/s.
RESOURCES_EVERY_S = 10.0
READERS_STAY_S = 30.0  # a dashboard polling every few seconds counts as still reading


def section_readers(settings: Settings, now: float, resources: dict | None = None) -> dict[str, monitoring.Reader]:
    """One reader per section of the live view (the resources given are reused as they are)."""
    rows = settings.snapshot_rows

    def first(reader: monitoring.Reader) -> monitoring.Reader:
        return lambda cur: reader(cur)[0]  # the list without its total

    return {
        "cluster": monitoring.cluster(settings, now),
        "workers": first(monitoring.worker_list(queries.worker_filter(), "id", "asc", rows, 0)),
        "tasks": first(monitoring.task_list(queries.Where.empty(), "submitted", "desc", rows, 0)),
        "resources": (lambda _: resources) if resources else monitoring.resources(now - 3600, now),
        "hardware": monitoring.hardware(settings),
        "network": monitoring.network(settings, now=now),
        "alerts": alerts.active_alerts,
    }


def build_snapshot(settings: Settings, now: float | None = None, resources: dict | None = None):
    """A reader returning every section of the live view (reusing `resources` when given)."""
    readers = section_readers(settings, time.time() if now is None else now, resources)
    return lambda cur: {name: read(cur) for name, read in readers.items()}


def _fingerprint(name: str, section: Any) -> bytes:
    """Bytes that change only when the section's content does (timestamps of the tick ignored)."""
    if isinstance(section, dict) and name in VOLATILE:
        section = {k: v for k, v in section.items() if k not in VOLATILE[name]}
    return msgspec.json.encode(section)


class Subscriber:
    def __init__(self, backlog: int) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=backlog)
        self.dropped = False

    def offer(self, message: bytes) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped = True


class Hub:
    """Holds the latest snapshot and fans changes out to subscribers."""

    def __init__(self, store: Store, settings: Settings,
                 prepare: Callable[[], Awaitable[object]] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.prepare = prepare  # folds pending heartbeats before a snapshot is read
        self.subscribers: set[Subscriber] = set()
        self.latest: dict[str, Any] | None = None
        self._prints: dict[str, bytes] = {}
        self._resources_at = 0.0
        self._built_at = self._read_at = -float("inf")  # monotonic: snapshot read from; last shared() call
        self.ticks = 0

    async def refresh(self, folded: bool = False) -> dict[str, list[str]]:
        """Build one snapshot and send the changed sections; returns what changed (`folded`: the caller
        has just folded, so another fold would only hold the snapshot back)."""
        if self.prepare is not None and not folded:
            await self.prepare()
        now, started = time.time(), time.monotonic()
        fresh_enough = self.latest is not None and now - self._resources_at < RESOURCES_EVERY_S
        snapshot = await self.store.read(build_snapshot(self.settings, now,
                                                        self.latest["resources"] if fresh_enough else None))
        if not fresh_enough:
            self._resources_at = now
        prints = {name: _fingerprint(name, snapshot[name]) for name in SECTIONS}
        changed = [name for name in SECTIONS if prints[name] != self._prints.get(name)]
        self.latest, self._prints, self._built_at = snapshot, prints, started
        self.ticks += 1
        if changed and self.subscribers:
            message = self.encode({name: snapshot[name] for name in changed}, full=False)
            for subscriber in list(self.subscribers):
                subscriber.offer(message)
        return {"changed": changed}

    async def refresh_if_watched(self, folded: bool = False, busy: bool = False) -> None:
        """A snapshot for subscribers, and while ingest is busy for recent REST readers (see shared());
        otherwise nobody needs one: the next subscriber or read builds its own."""
        reading = busy and time.monotonic() - self._read_at < READERS_STAY_S
        if self.subscribers or reading:
            await self.refresh(folded)

    def shared(self, name: str, max_age_s: float) -> Any | None:
        """A section of the latest snapshot for a read that may lag while ingest is busy, if no older
        than max_age_s: one build per tick then serves every reader of it. None: read it yourself."""
        self._read_at = time.monotonic()
        if self.latest is None or self._read_at - self._built_at > max_age_s:
            return None
        return self.latest[name]

    def encode(self, sections: dict[str, Any], full: bool) -> bytes:
        return msgspec.json.encode({"type": "monitoring_update", "full": full,
                                    "generated_at": iso(time.time())} | sections)

    async def full_message(self) -> bytes:
        """A fresh snapshot: a subscriber asking now must not get the previous tick's."""
        await self.refresh()
        return self.encode(self.latest, full=True)

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber(self.settings.ws_backlog)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
