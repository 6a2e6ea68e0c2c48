"""What the live views read of the fleet's past, kept between reads: it no longer changes.

An hour of a 10,000-worker fleet's raw samples is about 7 M rows (half a second to bucket), yet all but
the last seconds of it are settled. The resources chart keeps its whole buckets and scans only the raw
samples of its first, partial bucket and of the buckets after them; the Cluster view's trend keeps the
workers as they stood an hour ago for a minute. Samples that arrive late (a ts older than the settled
horizon) drop what they change.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from storage import timeseries

SETTLE_S = 10.0  # a bucket that ended this long ago changes only through late samples
PAST_REUSE_S = 60.0  # how much older than asked the trend's reference point may be
KEEP_S = 3 * 3600.0  # beyond the widest span the raw tier serves


@dataclass
class _Kept:
    """Points of the whole buckets in [start, end) of one bucket width."""

    start: float = 0.0
    end: float = 0.0
    points: dict[float, dict] = field(default_factory=dict)


class SettledHistory:
    """Fleet-wide resources (no worker filter) of the raw tier, from kept buckets plus a raw scan of the
    rest; the fleet's workers as they stood at the trend's reference point."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[int, _Kept] = {}
        self._late = 0  # late commits seen: a read that raced one keeps nothing
        self._past: tuple[int, float, dict] | None = None  # (late commits seen, at, figures)

    def workers_at(self, at: float, scan: Callable[[], dict]) -> dict:
        """scan()'s figures for `at`, or those of an `at` up to PAST_REUSE_S earlier while no late sample
        came since: the trend compares with about an hour ago, and that hour's samples are the scan."""
        with self._lock:
            late, past = self._late, self._past
        if past is not None and past[0] == late and 0 <= at - past[1] <= PAST_REUSE_S:
            return past[2]
        figures = scan()
        with self._lock:
            if late == self._late:
                self._past = (late, at, figures)
        return figures

    def late(self, oldest_ts: float) -> None:
        """A commit's oldest sample time (called on commit): one older than any read may have settled
        drops the buckets from its own on."""
        if oldest_ts >= time.time() - SETTLE_S:
            return
        with self._lock:
            self._late += 1
            for width, kept in self._kept.items():
                kept.end = max(kept.start, min(kept.end, math.floor(oldest_ts / width) * width))
                kept.points = {at: p for at, p in kept.points.items() if at < kept.end}

    def resources(self, cur: duckdb.DuckDBPyConnection, start: float, end: float) -> dict:
        """The same answer as timeseries.resources(cur, start, end)."""
        tier, width = timeseries.choose_tier(end - start)
        if tier != "raw":
            return timeseries.resources(cur, start, end)
        first_whole, last_whole = math.ceil(start / width) * width, math.floor(end / width) * width
        with self._lock:
            late, kept = self._late, self._kept.get(width)
            usable = kept is not None and kept.start <= first_whole <= kept.end
            reuse_until = min(kept.end, last_whole) if usable else first_whole
            known = kept.points if usable else {}
            reused = [dict(p) for at, p in sorted(known.items()) if first_whole <= at < reuse_until]
        points = _scan(cur, start, first_whole, width) + reused + _scan(cur, max(first_whole, reuse_until), end, width)
        settled = min(math.floor((time.time() - SETTLE_S) / width) * width, last_whole)
        if end >= time.time() - SETTLE_S:  # a live view's read; a look at the past would unsettle its kept buckets
            self._keep(width, late, None if usable else first_whole, reuse_until, settled, points)
        return {"tier": "raw", "bucket_seconds": width, "points": points}

    def _keep(self, width: int, late: int, restart: float | None, scanned_from: float, settled: float,
              points: list[dict]) -> None:
        """Remember the whole buckets scanned up to the settled horizon (unless a late commit raced the scan)."""
        with self._lock:
            if late != self._late:
                return
            kept = self._kept.setdefault(width, _Kept())
            if restart is not None:
                kept.start, kept.end, kept.points = restart, restart, {}
            if scanned_from != kept.end or settled <= kept.end:
                return
            kept.points.update({p["ts"]: dict(p) for p in points if scanned_from <= p["ts"] < settled})
            kept.end = settled
            horizon = math.floor((time.time() - KEEP_S) / width) * width
            kept.points = {at: p for at, p in kept.points.items() if at >= horizon}
            kept.start = max(kept.start, horizon)


def _scan(cur: duckdb.DuckDBPyConnection, start: float, end: float, width: int) -> list[dict]:
    """Raw points of [start, end) at the given bucket width."""
    if end <= start:
        return []
    return timeseries.resources(cur, start, end, tier="raw", bucket=width)["points"]
