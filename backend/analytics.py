"""Test and benchmark analytics as readers over the store, configured from the settings."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from backend.settings import Settings
from storage import alerts as alert_store
from storage import benchmarks, quarantine, test_analytics
from storage.queries import ts
from storage.store import Cursor, Store

log = logging.getLogger(__name__)

Reader = Callable[[Cursor], Any]


def flaky_method(settings: Settings) -> test_analytics.FlakyMethod:
    return test_analytics.FlakyMethod(settings.flaky_window, settings.flaky_min_runs, settings.flaky_flip_threshold)


def change_method(settings: Settings) -> benchmarks.ChangeMethod:
    return benchmarks.ChangeMethod(settings.benchmark_window, settings.benchmark_penalty, settings.benchmark_alpha,
                                   settings.benchmark_min_change, settings.benchmark_tail_runs,
                                   settings.benchmark_tail_alpha)


@dataclass(frozen=True)
class Snapshot:
    """Scored test x hardware pairs and suspect workers as of one pass over test_results."""

    pairs: pa.Table
    suspects: list[dict[str, Any]]
    version: int
    computed: float


def compute(cur: Cursor, settings: Settings, version: int) -> Snapshot:
    """Suspects first: their results are left out of the flaky verdicts (the machine failed, not the test)."""
    found = test_analytics.suspect_workers(cur, ts(time.time() - settings.suspect_window), settings.suspect_alpha)
    bad = sorted({row["worker_id"] for row in found if row["suspect"]})
    return Snapshot(test_analytics.scored_pairs(cur, flaky_method(settings), bad), found, version, time.monotonic())


class AnalyticsCache:
    """The whole-table passes run at most every DTMON_ANALYTICS_INTERVAL seconds, and only after new
    results (or every MAX_AGE seconds, as the suspect window moves); each request then filters and
    pages the small result, so lists stay fast at millions of results."""

    MAX_AGE = 300.0

    def __init__(self, store: Store, settings: Settings, version: Callable[[], int]) -> None:
        self.store, self.settings, self._version = store, settings, version
        self.latest: Snapshot | None = None
        self._lock = asyncio.Lock()

    def _fresh(self, snapshot: Snapshot | None) -> bool:
        """An empty snapshot is stale as soon as results arrive: first results are scored at once."""
        if snapshot is None or (snapshot.pairs.num_rows == 0 and snapshot.version != self._version()):
            return False
        age = time.monotonic() - snapshot.computed
        return age < self.settings.analytics_interval or (snapshot.version == self._version() and age < self.MAX_AGE)

    async def current(self) -> Snapshot:
        if self._fresh(self.latest):
            return self.latest
        async with self._lock:  # one pass at a time; who waited gets its result
            if not self._fresh(self.latest):
                version = self._version()
                self.latest = await self.store.read(lambda cur: compute(cur, self.settings, version))
        return self.latest

    async def run(self, stop: asyncio.Event) -> None:
        """Background refresh, so readers rarely wait for a pass."""
        while not stop.is_set():
            try:
                await self.current()
            except Exception:  # noqa: BLE001 - a failed pass must not end the loop
                log.exception("analytics refresh failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(1.0, self.settings.analytics_interval))
            except asyncio.TimeoutError:
                pass


def with_drains(cur: Cursor, suspects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    drained = quarantine.drains(cur)
    return [row | {"drained": row["worker_id"] in drained, "drain": drained.get(row["worker_id"])} for row in suspects]


def failure_groups(settings: Settings, hardware: str | None, search: str, limit: int, offset: int) -> Reader:
    since = ts(time.time() - settings.suspect_window)
    return lambda cur: test_analytics.failure_groups(cur, since, hardware, search, limit, offset)


def changes(settings: Settings, search: str, hardware: str | None, state: str | None, direction: str | None,
            alerts: dict[tuple[str, str], list[str]] | None = None) -> Reader:
    """Detected benchmark changes, optionally only one triage state or direction."""
    where, method = benchmarks.series_filter(None, search, hardware), change_method(settings)

    def read(cur: Cursor) -> list[dict[str, Any]]:
        found = benchmarks.all_changes(cur, where, method, alerts)
        return [c for c in found if (not state or c["state"] == state) and (not direction or c["direction"] == direction)]
    return read


def triage_target(settings: Settings, benchmark: str, hardware: str, run_id: str) -> Reader:
    method = change_method(settings)
    return lambda cur: benchmarks.triage_target(cur, benchmark, hardware, run_id, method)


def series(settings: Settings, benchmark: str | None, search: str, hardware: str | None) -> Reader:
    """Series with their points and their change points marked."""
    where, method = benchmarks.series_filter(benchmark, search, hardware), change_method(settings)

    def read(cur: Cursor) -> list[dict[str, Any]]:
        found = benchmarks.series(cur, where, method.window)
        return [entry | {"changes": benchmarks.changes_of(entry, method)} for entry in found]
    return read


Observation = dict[str, float | None]


def observers(settings: Settings,
              cache: AnalyticsCache | None = None) -> dict[str, Callable[[Cursor, dict[str, Any]], Observation]]:
    """The alert metrics measured here: suspect workers (from the cache when it holds a pass) and
    benchmark regressions."""

    def suspect(cur: Cursor, rule: dict[str, Any]) -> Observation:
        latest = cache.latest if cache is not None else None
        rows = (latest or compute(cur, settings, 0)).suspects
        return {f"worker:{r['worker_id']}": 1.0 for r in rows
                if r["suspect"] and _in_scope(rule, r["worker_id"], r["hardware"])}

    def regression(cur: Cursor, rule: dict[str, Any]) -> Observation:
        found = changes(settings, "", None, None, "worse", _firing_regressions(cur, rule.get("id")))(cur)
        return {_regression_scope(c["benchmark"], c["hardware"], c["alert_run"]): abs(c["percent"])
                for c in found if c["state"] != "expected" and _in_scope(rule, None, c["hardware"])}

    return {"suspect_worker": suspect, "benchmark_regression": regression}


def _regression_scope(benchmark: str, hardware: str, run_id: str) -> str:
    return f"benchmark:{benchmark}@{hardware}#{run_id}"


def _firing_regressions(cur: Cursor, rule_id: int | None) -> dict[tuple[str, str], list[str]]:
    """The runs of this rule's firing alerts per series, parsed back from their scopes."""
    runs: dict[tuple[str, str], list[str]] = {}
    for scope in alert_store.firing_scopes(cur, rule_id, "benchmark:"):
        series, _, run_id = scope.removeprefix("benchmark:").rpartition("#")
        benchmark, _, hardware = series.rpartition("@")
        runs.setdefault((benchmark, hardware), []).append(run_id)
    return runs


def _in_scope(rule: dict[str, Any], worker: str | None, hardware: str) -> bool:
    kind, value = rule.get("scope_kind") or "all", rule.get("scope_value")
    return kind == "all" or (kind == "worker" and worker == value) or (kind == "hardware" and hardware == str(value).lower())
