"""The fleet's resources chart with its settled buckets kept between reads.

An hour of a 10,000-worker fleet's raw samples is about 7 M rows (half a second to bucket), yet all but
its last minute no longer change: a read keeps those buckets and scans only the raw samples of its
first, partial bucket and of the buckets after them. Samples that arrive late (a ts older than the
settled horizon) drop the buckets from theirs on.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import duckdb

from storage import timeseries

SETTLE_S = 10.0  # a bucket that ended this long ago changes only through late samples
KEEP_S = 3 * 3600.0  # beyond the widest span the raw tier serves


@dataclass
class _Kept:
    """Points of the whole buckets in [start, end) of one bucket width."""

    start: float = 0.0
    end: float = 0.0
    points: dict[float, dict] = field(default_factory=dict)


class FleetChart:
    """Fleet-wide resources (no worker filter) of the raw tier, from kept buckets plus a raw scan of the rest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[int, _Kept] = {}
        self._late = 0  # late commits seen: a read that raced one keeps nothing

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
