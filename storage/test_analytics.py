"""Flaky tests, suspect workers and failure groups per hardware, computed in SQL over test_results.

Flakiness follows the flip-rate method (Gao et al., "Making system user interactive tests repeatable",
and the flip rate of Google's "Flaky tests at Google and how we mitigate them"): over the last
`window` runs of a test on one backend, count how often the first-attempt outcome changes in time
order, plus two direct signs of nondeterminism: passing on retry, and both outcomes on one commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
from scipy.stats import fisher_exact

from storage.queries import Where, like

FAILED_OUTCOMES = "('failed', 'error', 'timed_out')"
VERDICTS = ("flaky", "broken", "stable", "too_few_runs")


@dataclass(frozen=True)
class FlakyMethod:
    """The thresholds of the flaky verdict (settings DTMON_FLAKY_*)."""

    window: int = 30
    min_runs: int = 10
    flip_threshold: float = 0.1


# One row per test x hardware x run; its last `window` runs with their flips in time order (one
# sort serves both windows); both outcomes on one commit counted per commit group, not by a window.
PAIRS = f"""
WITH runs AS (
  SELECT test_id, hardware, run_id, min(ts) AS ts, arg_min(outcome IN {FAILED_OUTCOMES}, attempt) AS first_failed,
    bool_or(outcome = 'passed') AS any_passed, bool_or(outcome IN {FAILED_OUTCOMES}) AS any_failed,
    any_value("commit") AS git_commit
  FROM test_results WHERE outcome <> 'skipped' AND worker_id NOT IN (SELECT unnest($excluded::VARCHAR[]))
  GROUP BY test_id, hardware, run_id
), ordered AS (
  SELECT *, lag(first_failed) OVER w AS previous_failed, row_number() OVER w AS position,
    count(*) OVER (PARTITION BY test_id, hardware) AS total
  FROM runs WINDOW w AS (PARTITION BY test_id, hardware ORDER BY ts)
), recent AS (
  SELECT * FROM ordered WHERE position > total - $window
), commits AS (
  SELECT test_id, hardware, count(*) AS mixed FROM recent WHERE git_commit IS NOT NULL
  GROUP BY test_id, hardware, git_commit HAVING bool_or(any_failed) AND bool_or(any_passed)
), pairs AS (
  SELECT test_id, hardware, count(*) AS runs, count(*) FILTER (first_failed) AS failures,
    count(*) FILTER (position > total - $window + 1 AND previous_failed <> first_failed) AS flips,
    count(*) FILTER (first_failed AND any_passed) AS pass_on_retry,
    bool_or(any_passed) AS ever_passed, epoch(max(ts)) AS last_run,
    arg_max(CASE WHEN first_failed THEN 'failed' ELSE 'passed' END, ts) AS last_outcome
  FROM recent GROUP BY test_id, hardware
), counted AS (
  SELECT pairs.*, coalesce(m.mixed, 0) AS mixed_commit_runs FROM pairs
  LEFT JOIN (SELECT test_id, hardware, sum(mixed)::BIGINT AS mixed FROM commits GROUP BY ALL) m USING (test_id, hardware)
)
SELECT test_id, hardware, runs, failures, flips, pass_on_retry, mixed_commit_runs,
  round(greatest(flips / greatest(runs - 1, 1), pass_on_retry / runs, mixed_commit_runs / runs), 3) AS score,
  CASE WHEN runs < $min_runs THEN 'too_few_runs' WHEN NOT ever_passed THEN 'broken'
       WHEN failures > 0 AND (pass_on_retry > 0 OR mixed_commit_runs > 0
                              OR flips / greatest(runs - 1, 1) >= $flip_threshold) THEN 'flaky'
       ELSE 'stable' END AS verdict, last_outcome, last_run
FROM counted"""

PAIR_KEYS = ["test_id", "hardware", "runs", "failures", "flips", "pass_on_retry", "mixed_commit_runs", "score",
             "verdict", "last_outcome", "last_run", "quarantined"]
QUARANTINED = """EXISTS (SELECT 1 FROM quarantine q WHERE q.released_at IS NULL AND q.test_id = pairs.test_id
                  AND (q.hardware = '' OR q.hardware = pairs.hardware))"""


def scored_pairs(cur: duckdb.DuckDBPyConnection, method: FlakyMethod, excluded: list[str]) -> pa.Table:
    """Every test x hardware pair with its counts, score and verdict (results of `excluded` workers left out)."""
    params = {"excluded": excluded, "window": method.window, "min_runs": method.min_runs,
              "flip_threshold": method.flip_threshold}
    return cur.sql(PAIRS, params=params).to_arrow_table()


def pair_filter(hardware: str | None, search: str, verdict: str | None = None) -> Where:
    """Conditions on the scored pairs shared by the flaky list and the matrix."""
    where = Where.empty()
    if hardware:
        where.add("hardware = $hardware", hardware=hardware.lower())
    if search:
        where.add("test_id ILIKE $search ESCAPE '\\'", search=like(search))
    if verdict:
        where.add("verdict = $verdict", verdict=verdict)
    return where


def flaky_pairs(cur: duckdb.DuckDBPyConnection, pairs: pa.Table, where: Where, limit: int,
                offset: int) -> tuple[list[dict[str, Any]], int]:
    """Test x hardware pairs, highest score first, with the total before paging."""
    cur.register("pairs", pairs)
    rows = cur.execute(f"""SELECT test_id, hardware, runs, failures, flips, pass_on_retry, mixed_commit_runs, score,
          verdict, last_outcome, last_run, {QUARANTINED}, count(*) OVER () FROM pairs {where.sql()}
        ORDER BY score DESC, failures DESC, test_id, hardware LIMIT $limit OFFSET $offset""",
                       {**where.params, "limit": limit, "offset": offset}).fetchall()
    return [dict(zip(PAIR_KEYS, row)) | {"flaky": row[8] == "flaky"} for row in rows], rows[0][-1] if rows else 0


def matrix(cur: duckdb.DuckDBPyConnection, pairs: pa.Table, where: Where, limit: int,
           offset: int) -> tuple[list[dict[str, Any]], int]:
    """Tests (most failing first) with one cell per hardware they ran on, from the same pairs."""
    cur.register("pairs", pairs)
    sql = f"""WITH chosen AS (SELECT * FROM pairs {where.sql()}), tests AS (
          SELECT test_id, sum(failures) AS failing, max(score) AS worst, count(*) OVER () AS total
          FROM chosen GROUP BY test_id ORDER BY failing DESC, worst DESC, test_id LIMIT $limit OFFSET $offset)
        SELECT t.test_id, t.total, s.hardware, s.runs, s.failures, s.verdict, s.last_outcome
        FROM tests t JOIN chosen s USING (test_id) ORDER BY t.failing DESC, t.worst DESC, t.test_id, s.hardware"""
    rows = cur.execute(sql, {**where.params, "limit": limit, "offset": offset}).fetchall()
    tests: dict[str, dict[str, Any]] = {}
    for test_id, _, hardware, runs, failures, verdict, last in rows:
        cell = {"runs": runs, "failures": failures, "pass_rate": round(1 - failures / runs, 3), "verdict": verdict,
                "last_outcome": last}
        tests.setdefault(test_id, {"test_id": test_id, "cells": {}})["cells"][hardware] = cell
    return list(tests.values()), rows[0][1] if rows else 0


# Per worker and hardware: attempts on tests that passed on another worker of that hardware at the
# same commit (unknown commits form one group), so tests broken everywhere never count against it.
PEER_COUNTS = f"""
WITH per AS (
  SELECT test_id, hardware, coalesce("commit", '') AS c, worker_id,
    count(*) FILTER (outcome IN {FAILED_OUTCOMES}) AS failed, count(*) FILTER (outcome = 'passed') AS passed
  FROM test_results WHERE ts >= $since AND outcome <> 'skipped' GROUP BY ALL
), eligible AS (
  SELECT *, sum(passed) OVER (PARTITION BY test_id, hardware, c) - passed AS others_passed FROM per
)
SELECT hardware, worker_id, sum(failed)::BIGINT, sum(passed)::BIGINT FROM eligible WHERE others_passed > 0
GROUP BY ALL ORDER BY hardware, worker_id"""


def suspect_workers(cur: duckdb.DuckDBPyConnection, since: datetime, alpha: float) -> list[dict[str, Any]]:
    """Every worker x hardware with a one-sided Fisher's exact test against its peers.

    Suspect when p < alpha / (number of workers tested) (Bonferroni), at least 3 failures, and a
    failure rate above the peers'. Peers = the other workers of the same hardware.
    """
    counts = cur.execute(PEER_COUNTS, {"since": since}).fetchall()
    totals: dict[str, list[int]] = {}
    for hardware, _, failed, passed in counts:
        total = totals.setdefault(hardware, [0, 0])
        total[0], total[1] = total[0] + failed, total[1] + passed
    rows = [_verdict(hardware, worker, failed, passed, totals[hardware]) for hardware, worker, failed, passed in counts]
    tested = sum(1 for row in rows if row["peer_failures"] + row["peer_passes"])
    for row in rows:
        row["suspect"] = bool(row["p_value"] is not None and row["p_value"] < alpha / max(tested, 1)
                              and row["failures"] >= 3 and row["failure_rate"] > row["peer_failure_rate"])
    return rows


def _verdict(hardware: str, worker: str, failed: int, passed: int, total: list[int]) -> dict[str, Any]:
    peer_failed, peer_passed = total[0] - failed, total[1] - passed
    p_value = None
    if peer_failed + peer_passed:
        p_value = float(fisher_exact([[failed, passed], [peer_failed, peer_passed]], alternative="greater")[1])
    return {"worker_id": worker, "hardware": hardware, "failures": failed, "passes": passed,
            "peer_failures": peer_failed, "peer_passes": peer_passed,
            "failure_rate": _rate(failed, failed + passed), "peer_failure_rate": _rate(peer_failed, peer_failed + peer_passed),
            "p_value": p_value}


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def failure_groups(cur: duckdb.DuckDBPyConnection, since: datetime, hardware: str | None, search: str,
                   limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Failed attempts grouped by normalised error signature x hardware, biggest first."""
    where = Where.empty()
    where.add(f"outcome IN {FAILED_OUTCOMES} AND ts >= $since", since=since)
    if hardware:
        where.add("hardware = $hardware", hardware=hardware.lower())
    if search:
        where.add("(test_id ILIKE $search ESCAPE '\\' OR error ILIKE $search ESCAPE '\\')", search=like(search))
    rows = cur.execute(
        f"""SELECT error_signature AS signature, hardware, count(*) AS failures, count(DISTINCT test_id) AS tests,
              count(DISTINCT worker_id) AS workers, list(DISTINCT test_id ORDER BY test_id)[:5] AS examples,
              epoch(max(ts)) AS last_seen, count(*) OVER () AS total
            FROM test_results {where.sql()} GROUP BY ALL ORDER BY failures DESC, signature, hardware
            LIMIT $limit OFFSET $offset""", {**where.params, "limit": limit, "offset": offset}).fetchall()
    keys = ["signature", "hardware", "failures", "tests", "workers", "examples", "last_seen"]
    return [dict(zip(keys, row[:-1])) for row in rows], rows[0][-1] if rows else 0


def history(cur: duckdb.DuckDBPyConnection, test_id: str, hardware: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest attempts of one test, oldest first (an outcome strip and a duration trend)."""
    where = Where.empty()
    where.add("test_id = $test_id", test_id=test_id)
    if hardware:
        where.add("hardware = $hardware", hardware=hardware.lower())
    rows = cur.execute(
        f"""SELECT * FROM (SELECT epoch(ts), run_id, hardware, worker_id, outcome, duration_s, attempt, "commit", branch,
              error FROM test_results {where.sql()} ORDER BY ts DESC LIMIT $limit) ORDER BY 1""",
        {**where.params, "limit": limit}).fetchall()
    keys = ["ts", "run_id", "hardware", "worker_id", "outcome", "duration_s", "attempt", "commit", "branch", "error"]
    return [dict(zip(keys, row)) for row in rows]
