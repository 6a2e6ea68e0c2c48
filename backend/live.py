"""One snapshot per tick, shared by every subscriber; slow subscribers are dropped."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from backend import monitoring
from backend.schemas import iso
from backend.settings import Settings
from storage import alerts, queries
from storage.settled import SettledHistory
from storage.store import Store

log = logging.getLogger(__name__)
SECTIONS = ("cluster", "workers", "tasks", "resources", "hardware", "network", "alerts")
VOLATILE = {"cluster": ("generated_at",), "resources": ("start", "end")}
# The live chart's buckets are 30 s wide; at 100,000 samples/s even the raw samples since its last kept
# bucket cost more per tick than every other section together.
RESOURCES_EVERY_S = 10.0
READERS_STAY_S = 30.0  # a dashboard polling every few seconds counts as still reading
SHARED = ("cluster", "hardware", "network", "resources")  # their REST reads with default parameters


def section_readers(settings: Settings, now: float, settled: SettledHistory | None = None,
                    resources: dict | None = None) -> dict[str, monitoring.Reader]:
    """One reader per section of the live view (resources through the chart's kept buckets, or as given)."""
    rows = settings.snapshot_rows

    def first(reader: monitoring.Reader) -> monitoring.Reader:
        return lambda cur: reader(cur)[0]  # the list without its total

    return {
        "cluster": monitoring.cluster(settings, now, settled),
        "workers": first(monitoring.worker_list(queries.worker_filter(), "id", "asc", rows, 0)),
        "tasks": first(monitoring.task_list(queries.Where.empty(), "submitted", "desc", rows, 0)),
        "resources": (lambda _: resources) if resources else monitoring.resources(now - 3600, now, settled=settled),
        "hardware": monitoring.hardware(settings),
        "network": monitoring.network(settings, now=now),
        "alerts": alerts.active_alerts,
    }


def build_snapshot(settings: Settings, now: float | None = None, settled: SettledHistory | None = None,
                   resources: dict | None = None):
    """A reader returning every section of the live view (reusing `resources` when given)."""
    readers = section_readers(settings, time.time() if now is None else now, settled, resources)
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


class SharedSections:
    """Sections of the live view that REST reads share while ingest is busy (their answers may lag then):
    built by the tick or by a reader, and served to every reader until older than the allowed lag, or for
    the resources chart than RESOURCES_EVERY_S, as the live view re-reads it."""

    def __init__(self) -> None:
        self._sections: dict[str, tuple[float, Any]] = {}  # name -> (monotonic time read from, section)
        self._read_at = -math.inf

    def get(self, name: str, lag_s: float) -> Any | None:
        """A reader's: the section if recent enough; None: read it yourself (and put() it)."""
        self._read_at = time.monotonic()
        return self.recent(name, lag_s)

    def recent(self, name: str, lag_s: float = 0.0) -> Any | None:
        """The section if at most lag_s old, or for the chart RESOURCES_EVERY_S."""
        built_at, section = self._sections.get(name, (-math.inf, None))
        max_age_s = max(lag_s, RESOURCES_EVERY_S) if name == "resources" else lag_s
        return section if time.monotonic() - built_at <= max_age_s else None

    def put(self, name: str, section: Any, built_at: float) -> None:
        if built_at > self._sections.get(name, (-math.inf, None))[0]:
            self._sections[name] = (built_at, section)

    def wanted(self) -> bool:
        return time.monotonic() - self._read_at < READERS_STAY_S

    def clear(self) -> None:
        """After a change a reader must see at once (an admin removed a worker)."""
        self._sections.clear()


class Hub:
    """Holds the latest snapshot and fans changes out to subscribers."""

    def __init__(self, store: Store, settings: Settings,
                 prepare: Callable[[], Awaitable[object]] | None = None, settled: SettledHistory | None = None) -> None:
        self.store = store
        self.settled = settled
        self.settings = settings
        self.prepare = prepare  # folds pending heartbeats before a snapshot is read
        self.subscribers: set[Subscriber] = set()
        self.latest: dict[str, Any] | None = None
        self._prints: dict[str, bytes] = {}
        self.shared = SharedSections()
        self.ticks = 0

    async def refresh(self, folded: bool = False) -> dict[str, list[str]]:
        """Build one snapshot and send the changed sections; returns what changed (`folded`: the caller
        has just folded, so another fold would only hold the snapshot back)."""
        if self.prepare is not None and not folded:
            await self.prepare()
        now, started = time.time(), time.monotonic()
        reused = self.shared.recent("resources")
        snapshot = await self.store.read(build_snapshot(self.settings, now, self.settled, reused))
        prints = {name: _fingerprint(name, snapshot[name]) for name in SECTIONS}
        changed = [name for name in SECTIONS if prints[name] != self._prints.get(name)]
        self.latest, self._prints = snapshot, prints
        for name in SHARED:
            if snapshot[name] is not reused:  # reused, it keeps its own time
                self.shared.put(name, snapshot[name], started)
        self.ticks += 1
        if changed and self.subscribers:
            message = self.encode({name: snapshot[name] for name in changed}, full=False)
            for subscriber in list(self.subscribers):
                subscriber.offer(message)
        return {"changed": changed}

    async def refresh_if_watched(self, folded: bool = False, busy: bool = False) -> None:
        """A snapshot for subscribers; while ingest is busy, the shared sections for recent REST readers;
        otherwise nobody needs one: the next subscriber or read builds its own."""
        if self.subscribers:
            await self.refresh(folded)
        elif busy and self.shared.wanted():
            await self._refresh_shared()

    async def _refresh_shared(self) -> None:
        """Only what REST readers share: nobody watches the rest."""
        now, started = time.time(), time.monotonic()
        readers = section_readers(self.settings, now, self.settled)
        names = [name for name in SHARED if self.shared.recent(name) is None]
        sections = await self.store.read(lambda cur: {name: readers[name](cur) for name in names})
        for name, section in sections.items():
            self.shared.put(name, section, started)

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
