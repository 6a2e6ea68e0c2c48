"""Test and benchmark analytics as readers over the store, configured from the settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from backend.settings import Settings
from storage import benchmarks, quarantine, test_analytics
from storage.queries import Where, ts
from storage.store import Cursor

Reader = Callable[[Cursor], Any]


def flaky_method(settings: Settings) -> test_analytics.FlakyMethod:
    return test_analytics.FlakyMethod(settings.flaky_window, settings.flaky_min_runs, settings.flaky_flip_threshold)


def change_method(settings: Settings) -> benchmarks.ChangeMethod:
    return benchmarks.ChangeMethod(settings.benchmark_window, settings.benchmark_penalty, settings.benchmark_min_change)


def suspects(cur: Cursor, settings: Settings) -> list[dict[str, Any]]:
    """Every worker x hardware with its Fisher verdict and drained state."""
    since = ts(time.time() - settings.suspect_window)
    drained = quarantine.drains(cur)
    rows = test_analytics.suspect_workers(cur, since, settings.suspect_alpha)
    return [row | {"drained": row["worker_id"] in drained, "drain": drained.get(row["worker_id"])} for row in rows]


def _healthy_filter(cur: Cursor, settings: Settings, hardware: str | None, search: str) -> Where:
    """Results of suspect workers are left out: their failures belong to the machine, not the test."""
    bad = sorted({row["worker_id"] for row in suspects(cur, settings) if row["suspect"]})
    return test_analytics.result_filter(hardware, search, bad)


def flaky(settings: Settings, hardware: str | None, search: str, verdict: str | None, limit: int,
          offset: int) -> Reader:
    method = flaky_method(settings)
    return lambda cur: test_analytics.flaky_pairs(cur, _healthy_filter(cur, settings, hardware, search), method,
                                                  verdict, limit, offset)


def matrix(settings: Settings, hardware: str | None, search: str, limit: int, offset: int) -> Reader:
    method = flaky_method(settings)
    return lambda cur: test_analytics.matrix(cur, _healthy_filter(cur, settings, hardware, search), method, limit,
                                             offset)


def failure_groups(settings: Settings, hardware: str | None, search: str, limit: int, offset: int) -> Reader:
    since = ts(time.time() - settings.suspect_window)
    return lambda cur: test_analytics.failure_groups(cur, since, hardware, search, limit, offset)


def changes(settings: Settings, search: str, hardware: str | None, state: str | None, direction: str | None) -> Reader:
    """Detected benchmark changes, optionally only one triage state or direction."""
    where, method = benchmarks.series_filter(None, search, hardware), change_method(settings)

    def read(cur: Cursor) -> list[dict[str, Any]]:
        found = benchmarks.all_changes(cur, where, method)
        return [c for c in found if (not state or c["state"] == state) and (not direction or c["direction"] == direction)]
    return read


def series(settings: Settings, benchmark: str | None, search: str, hardware: str | None) -> Reader:
    """Series with their points and their change points marked."""
    where, method = benchmarks.series_filter(benchmark, search, hardware), change_method(settings)

    def read(cur: Cursor) -> list[dict[str, Any]]:
        found = benchmarks.series(cur, where, method.window)
        return [entry | {"changes": benchmarks.changes_of(entry, method)} for entry in found]
    return read


def observers(settings: Settings) -> dict[str, Callable[[Cursor, dict[str, Any]], dict[str, float | None]]]:
    """The alert metrics measured here: suspect workers and benchmark regressions."""

    def suspect(cur: Cursor, rule: dict[str, Any]) -> dict[str, float | None]:
        rows = [r for r in suspects(cur, settings) if _in_scope(rule, r["worker_id"], r["hardware"])]
        return {f"worker:{r['worker_id']}": 1.0 for r in rows if r["suspect"]}

    def regression(cur: Cursor, rule: dict[str, Any]) -> dict[str, float | None]:
        found = changes(settings, "", None, None, "worse")(cur)
        return {f"benchmark:{c['benchmark']}@{c['hardware']}#{c['change_run']}": abs(c["percent"]) for c in found
                if c["state"] != "expected" and _in_scope(rule, None, c["hardware"])}

    return {"suspect_worker": suspect, "benchmark_regression": regression}


def _in_scope(rule: dict[str, Any], worker: str | None, hardware: str) -> bool:
    kind, value = rule.get("scope_kind") or "all", rule.get("scope_value")
    return kind == "all" or (kind == "worker" and worker == value) or (kind == "hardware" and hardware == str(value).lower())
