"""Background loops: offline detection and the live tick, rollups and retention, alerts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from backend.alerts import AlertEvaluator, cluster_health, run_alert_loop
from backend.analytics import AnalyticsCache
from backend.analytics import observers as analytics_observers
from backend.ingest import IngestService
from backend.live import Hub
from backend.settings import Settings
from backend.webhooks import WebhookDispatcher, allowed_hosts
from storage import quarantine, results, rollup
from storage.alerts import utc_now
from storage.health import refresh_stale_sql
from storage.store import Cursor, Store

log = logging.getLogger(__name__)


def mark_stale(now: float, offline_after: float):
    """Workers silent too long turn offline without anyone reporting it."""
    def write(con: Cursor) -> None:
        con.execute(refresh_stale_sql(), {"now_us": int(now * 1_000_000), "offline_after_s": offline_after})
    return write


class Maintenance:
    """Owns the loops; started and stopped with the app."""

    def __init__(self, store: Store, settings: Settings, hub: Hub, ingest: IngestService,
                 analytics: AnalyticsCache | None = None) -> None:
        self.store, self.settings, self.hub, self.ingest, self.analytics = store, settings, hub, ingest, analytics
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.alerts: AlertEvaluator | None = None

    async def tick(self) -> None:
        await self.ingest.fold()
        await self.store.write(mark_stale(time.time(), self.settings.offline_after))
        await self.hub.refresh_if_watched(folded=True, busy=self.ingest.busy)

    async def roll(self) -> None:
        """Roll up what arrived since the last pass (late samples re-roll their old buckets)."""
        now = time.time()
        await self.store.write(rollup.rollup(now, self.ingest.take_dirty_since()))
        s = self.settings
        await self.store.write(rollup.prune(now, s.raw_retention, s.minute_retention, s.hour_retention,
                                            s.task_retention))
        await self.store.write(results.prune(utc_now(), s.result_retention))
        await self.store.write(quarantine.auto_release(s.quarantine_release_runs, utc_now()))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._every(self.settings.tick_interval, self.tick), name="tick"),
                       asyncio.create_task(self._every(self.settings.rollup_interval, self.roll), name="rollup")]
        observers = None
        if self.analytics is not None:
            self._tasks.append(asyncio.create_task(self.analytics.run(self.stop), name="analytics"))
            observers = analytics_observers(self.settings, self.analytics)
        dispatcher = WebhookDispatcher(self.store, timeout_s=self.settings.webhook_timeout,
                                       allowed=allowed_hosts(self.settings.webhook_allow_hosts))
        self.alerts = AlertEvaluator(self.store, dispatcher, cluster_health(self.settings), observers)
        self._tasks.append(asyncio.create_task(
            run_alert_loop(self.alerts, self.settings.alert_interval, self.stop), name="alerts"))

    async def evaluate_alerts(self) -> None:
        """Evaluate now rather than at the next interval (a removed worker's alerts resolve at once)."""
        if self.alerts is not None:
            await self.alerts.tick()

    async def close(self) -> None:
        self.stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _every(self, interval: float, step: Callable[[], Awaitable[None]]) -> None:
        """Starts a step every `interval` seconds (at once after a step that took longer)."""
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                await step()
            except Exception:  # noqa: BLE001 - a failed pass must not end the loop
                log.exception("background step %s failed", step.__name__)
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=max(0.0, interval - (time.monotonic() - started)))
            except asyncio.TimeoutError:
                pass

