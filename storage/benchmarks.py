"""Benchmark series per benchmark x hardware, their change points (ruptures' PELT) and triage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import ruptures
from scipy import stats

from storage.queries import Where, like

TRIAGE_STATES = ("untriaged", "expected", "regression")
TRIAGE_WINDOW = 3  # runs a change point may move and keep its triage
UNTRIAGED = {"state": "untriaged", "triaged_by": None, "triaged_at": None, "change_run": None}


@dataclass(frozen=True)
class ChangeMethod:
    """Detection settings (DTMON_BENCHMARK_*): runs per series, candidate penalty, significance a change
    point must keep, smallest change kept, and the recent-runs check (how many newest runs, at what
    significance)."""

    window: int = 200
    penalty: float = 1.0
    alpha: float = 1e-5
    min_change_pct: float = 3.0
    tail_runs: int = 5
    tail_alpha: float = 0.003


TAIL_MIN_RUNS, TAIL_MIN_BEFORE = 3, 10  # newest runs a tail check needs at least, and runs before them


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
    """Indexes where a new level starts: candidates from PELT (L2 cost) on the series scaled by its
    median, with a lax penalty of `penalty` x noise variance x log(n) (noise from the median absolute
    difference of neighbours, so a step does not inflate it); those that stay significant; then the
    recent-runs check."""
    if len(values) < 6:
        return []
    scaled = values / np.median(values)
    noise = 1.4826 * np.median(np.abs(np.diff(scaled))) / np.sqrt(2)
    noise = max(noise, 1e-4)
    algo = ruptures.Pelt(model="l2", min_size=3, jump=1).fit(scaled.reshape(-1, 1))
    found = significant(scaled, algo.predict(pen=method.penalty * noise**2 * np.log(len(values)))[:-1], method.alpha)
    recent = tail_change(scaled[found[-1] if found else 0:], method)
    return found + ([len(values) - recent] if recent else [])


def significant(values: np.ndarray, cuts: list[int], alpha: float) -> list[int]:
    """The change points left after dropping, one at a time, the least significant (Student's t-test of
    the segments on either side) until every one has p < alpha: Apache Otava's (Hunter's) pruning."""
    cuts = list(cuts)
    while cuts:
        bounds = [0, *cuts, len(values)]
        pvalues = [_t_test(values[start:cut], values[cut:end]) for start, cut, end in zip(bounds, bounds[1:], bounds[2:])]
        weakest = int(np.argmax(pvalues))
        if pvalues[weakest] < alpha:
            break
        cuts.pop(weakest)
    return cuts


def _t_test(before: np.ndarray, after: np.ndarray) -> float:
    """Two-sided p-value of Student's t-test (pooled variance); runs without spread differ surely or not at all."""
    dof = len(before) + len(after) - 2
    pooled = ((len(before) - 1) * before.var(ddof=1) + (len(after) - 1) * after.var(ddof=1)) / dof
    difference = abs(after.mean() - before.mean())
    if pooled <= 1e-18:
        return 0.0 if difference > 1e-12 else 1.0
    return float(2 * stats.t.sf(difference / np.sqrt(pooled * (1 / len(before) + 1 / len(after))), dof))


def tail_change(segment: np.ndarray, method: ChangeMethod) -> int | None:
    """How many newest runs of the last segment sit at a new level, if any. PELT needs more runs
    after a small step than a user wants to wait, so the newest k runs (3..tail_runs) are tested
    against the runs before them: a two-sample t statistic on the earlier runs' spread alone (a
    handful of new runs cannot estimate theirs), Student's t with h - 1 degrees of freedom, at
    tail_alpha divided by the k tried (Bonferroni)."""
    tries = range(TAIL_MIN_RUNS, min(method.tail_runs, len(segment) - TAIL_MIN_BEFORE) + 1)
    best: tuple[float, int] | None = None
    for k in tries:
        before, after = segment[:-k], segment[-k:]
        spread = max(float(before.std(ddof=1)), 1e-9)
        t = (after.mean() - before.mean()) / (spread * np.sqrt(1 / k + 1 / len(before)))
        p = 2 * stats.t.sf(abs(t), len(before) - 1)
        if p < method.tail_alpha / len(tries) and (best is None or p < best[0]):
            best = (p, k)
    return best[1] if best else None


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


def triage_marks(cur: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Admins' triage per series, each mark on the run a change was detected at when it was set."""
    rows = cur.execute("""SELECT benchmark, hardware, change_run, state, triaged_by,
        strftime(triaged_at, '%Y-%m-%dT%H:%M:%SZ'), direction FROM benchmark_triage""").fetchall()
    marks: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for benchmark, hardware, run, state, by, at, direction in rows:
        marks.setdefault((benchmark, hardware), []).append(
            {"change_run": run, "state": state, "triaged_by": by, "triaged_at": at, "direction": direction})
    return marks


def nearest_change(entry: dict[str, Any], changes: list[dict[str, Any]], run_id: str,
                   direction: str | None = None) -> dict[str, Any] | None:
    """The change within TRIAGE_WINDOW runs of `run_id` (same direction when given), nearest first:
    a change point moves by a run or two as new runs arrive and must keep its triage."""
    position = {point["run_id"]: index for index, point in enumerate(entry["points"])}
    if run_id not in position:
        return None
    near = [c for c in changes if abs(c["index"] - position[run_id]) <= TRIAGE_WINDOW
            and direction in (None, c["direction"])]
    return min(near, key=lambda c: abs(c["index"] - position[run_id]), default=None)


def with_triage(entry: dict[str, Any], changes: list[dict[str, Any]],
                marks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each change takes the nearest mark within TRIAGE_WINDOW runs in its direction, one mark per change."""
    taken: dict[int, dict[str, Any]] = {}
    for mark in marks:
        change = nearest_change(entry, changes, mark["change_run"], mark["direction"])
        if change is not None and change["index"] not in taken:
            taken[change["index"]] = mark
    for change in changes:
        mark = taken.get(change["index"], UNTRIAGED)
        change |= {"state": mark["state"], "triaged_by": mark["triaged_by"], "triaged_at": mark["triaged_at"],
                   "triaged_run": mark["change_run"]}
    return changes


def all_changes(cur: duckdb.DuckDBPyConnection, where: Where, method: ChangeMethod,
                alerts: dict[tuple[str, str], list[str]] | None = None) -> list[dict[str, Any]]:
    """Every change of every series in the filter, newest first, with its triage state (and, given
    the runs of the regression alerts firing per series, the run its alert is named by)."""
    marks, found = triage_marks(cur), []
    for entry in series(cur, where, method.window):
        key = (entry["benchmark"], entry["hardware"])
        changes = with_triage(entry, changes_of(entry, method), marks.get(key, []))
        if alerts is not None:
            follow_alerts(entry, changes, alerts.get(key, []))
        found += changes
    return sorted(found, key=lambda change: -change["ts"])


def follow_alerts(entry: dict[str, Any], changes: list[dict[str, Any]], firing_runs: list[str]) -> None:
    """A change for the worse keeps the run of the alert already firing for it (within TRIAGE_WINDOW
    runs), else the run it was triaged on, else its own: a moving change point must not resolve one
    alert and fire another for the same regression."""
    for change in changes:
        change["alert_run"] = change["triaged_run"] or change["change_run"]
    for run in firing_runs:
        change = nearest_change(entry, changes, run, "worse")
        if change is not None:
            change["alert_run"] = run


def triage_target(cur: duckdb.DuckDBPyConnection, benchmark: str, hardware: str, run_id: str,
                  method: ChangeMethod) -> tuple[dict[str, Any], list[str]] | None:
    """The detected change an admin means by `run_id` (it may have moved since the page showed it),
    and the runs around it where an earlier mark of the same change may sit."""
    for entry in series(cur, series_filter(benchmark, "", hardware), method.window):
        change = nearest_change(entry, changes_of(entry, method), run_id)
        if change is not None:
            around = entry["points"][max(0, change["index"] - TRIAGE_WINDOW):change["index"] + TRIAGE_WINDOW + 1]
            return change, [point["run_id"] for point in around]
    return None


def set_triage(change: dict[str, Any], state: str, by: str, at: datetime, around: list[str]):
    """The mark on the change's run; earlier marks of the same change (near it, same direction) go."""
    def write(con: duckdb.DuckDBPyConnection) -> None:
        key = [change["benchmark"], change["hardware"]]
        con.execute("""DELETE FROM benchmark_triage WHERE benchmark = ? AND hardware = ?
                       AND list_contains(?, change_run) AND coalesce(direction, ?) = ?""",
                    [*key, around, change["direction"], change["direction"]])
        con.execute("""INSERT OR REPLACE INTO benchmark_triage (benchmark, hardware, change_run, state, triaged_by,
                       triaged_at, direction) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    [*key, change["change_run"], state, by, at, change["direction"]])
    return write
