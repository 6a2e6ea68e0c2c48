"""Benchmark series per benchmark x hardware, their change points (ruptures' PELT) and triage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import ruptures

from storage.queries import Where, like

TRIAGE_STATES = ("untriaged", "expected", "regression")


@dataclass(frozen=True)
class ChangeMethod:
    """Detection settings (DTMON_BENCHMARK_*): how many runs per series, penalty, smallest change kept."""

    window: int = 200
    penalty: float = 6.0
    min_change_pct: float = 3.0


# One point per run (the median of repeats), the newest `window` runs of each series.
POINTS = """
SELECT benchmark, hardware, any_value(unit), bool_and(lower_is_better), run_id, epoch(min(ts)) AS t, median(value)
FROM benchmark_results {where} GROUP BY benchmark, hardware, run_id
QUALIFY row_number() OVER (PARTITION BY benchmark, hardware ORDER BY min(ts) DESC) <= $window
ORDER BY benchmark, hardware, t"""


def series_filter(benchmark: str | None, search: str, hardware: str | None) -> Where:
    where = Where.empty()
    if benchmark:
        where.add("benchmark = $benchmark", benchmark=benchmark)
    if search:
        where.add("benchmark ILIKE $search ESCAPE '\\'", search=like(search))
    if hardware:
        where.add("hardware = $hardware", hardware=hardware.lower())
    return where


def series(cur: duckdb.DuckDBPyConnection, where: Where, window: int) -> list[dict[str, Any]]:
    """Each series in the filter with its points oldest first."""
    rows = cur.execute(POINTS.format(where=where.sql()), {**where.params, "window": window}).fetchall()
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for benchmark, hardware, unit, lower, run_id, t, value in rows:
        entry = found.setdefault((benchmark, hardware), {"benchmark": benchmark, "hardware": hardware, "unit": unit,
                                                         "lower_is_better": lower, "points": []})
        entry["points"].append({"run_id": run_id, "ts": t, "value": value})
    return list(found.values())


def change_points(values: np.ndarray, method: ChangeMethod) -> list[int]:
    """Indexes where a new level starts: PELT (L2 cost) on the series scaled by its median, with a
    BIC-style penalty of `penalty` x noise variance x log(n); noise from the median absolute
    difference of neighbours, so a step does not inflate it."""
    if len(values) < 6:
        return []
    scaled = values / np.median(values)
    noise = 1.4826 * np.median(np.abs(np.diff(scaled))) / np.sqrt(2)
    noise = max(noise, 1e-4)
    algo = ruptures.Pelt(model="l2", min_size=3, jump=1).fit(scaled.reshape(-1, 1))
    return algo.predict(pen=method.penalty * noise**2 * np.log(len(values)))[:-1]


def changes_of(entry: dict[str, Any], method: ChangeMethod) -> list[dict[str, Any]]:
    """Detected changes of one series with before/after means and the change in percent."""
    values = np.array([p["value"] for p in entry["points"]], dtype=float)
    bounds = [0, *change_points(values, method), len(values)]
    found = []
    for start, cut, end in zip(bounds, bounds[1:], bounds[2:]):
        before, after = float(values[start:cut].mean()), float(values[cut:end].mean())
        percent = 100.0 * (after - before) / abs(before) if before else 0.0
        if abs(percent) < method.min_change_pct:
            continue
        worse = percent > 0 if entry["lower_is_better"] else percent < 0
        point = entry["points"][cut]
        found.append({"benchmark": entry["benchmark"], "hardware": entry["hardware"], "unit": entry["unit"],
                      "change_run": point["run_id"], "ts": point["ts"], "index": cut, "before": before,
                      "after": after, "percent": round(percent, 2), "direction": "worse" if worse else "better"})
    return found


def triage(cur: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], dict[str, Any]]:
    rows = cur.execute("""SELECT benchmark, hardware, change_run, state, triaged_by,
        strftime(triaged_at, '%Y-%m-%dT%H:%M:%SZ') FROM benchmark_triage""").fetchall()
    return {row[:3]: {"state": row[3], "triaged_by": row[4], "triaged_at": row[5]} for row in rows}


def all_changes(cur: duckdb.DuckDBPyConnection, where: Where, method: ChangeMethod) -> list[dict[str, Any]]:
    """Every change of every series in the filter, newest first, with its triage state."""
    states = triage(cur)
    found = [change for entry in series(cur, where, method.window) for change in changes_of(entry, method)]
    for change in found:
        change |= states.get((change["benchmark"], change["hardware"], change["change_run"]),
                             {"state": "untriaged", "triaged_by": None, "triaged_at": None})
    return sorted(found, key=lambda change: -change["ts"])


def set_triage(benchmark: str, hardware: str, change_run: str, state: str, by: str, at: datetime):
    def write(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("INSERT OR REPLACE INTO benchmark_triage VALUES (?, ?, ?, ?, ?, ?)",
                    [benchmark, hardware, change_run, state, by, at])
    return write
