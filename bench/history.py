"""Benchmark: history queries through rollups vs the raw table, and DuckDB vs SQLite on the same rows.

SIMULATED DATA: this script fills a scratch DuckDB file with a synthetic fleet (generated
inside DuckDB) to measure query speed. It is a load generator, not product data, and never
touches a real database. Results go to the `## bench/history.py` section of docs/PERFORMANCE.md.

    python bench/history.py                       # 1,000 workers x 30 days of 10 s samples
    python bench/history.py --workers 100 --days 3 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402  (the bench is a storage-level script)

from storage import rollup, schema  # noqa: E402
from storage.history import history, plan, resource_points  # noqa: E402

DAY = 86400
STEP = 10  # seconds between simulated heartbeats
SECTION = "## bench/history.py"
PERFORMANCE = Path(__file__).resolve().parents[1] / "docs" / "PERFORMANCE.md"

SIMULATED_DAY = """INSERT INTO worker_samples (ts, worker_id, cpu_percent, memory_used_gb, memory_total_gb, memory_percent, rtt_ms, running_tasks)
SELECT make_timestamp(CAST(($day_start + t * {step}) * 1000000 AS BIGINT)),
  'worker-' || lpad(w::VARCHAR, 5, '0'),
  (w * 7 + t) % 100, 4 + (w + t) % 12, 16.0, (4 + (w + t) % 12) / 16.0 * 100, 1 + w % 20, (w + t) % 4
FROM range({steps}) s(t), range({workers}) k(w)"""


def simulate(con: duckdb.DuckDBPyConnection, workers: int, days: int, end: float) -> None:
    """Fill raw samples day by day, rolling each day up like the server does."""
    con.execute("""INSERT INTO workers (worker_id, hostname, hardware, status)
        SELECT 'worker-' || lpad(w::VARCHAR, 5, '0'), 'host-' || w::VARCHAR,
          ['cpu', ['cuda', 'rocm', 'mps', 'openvino'][1 + w % 4]], 'active' FROM range($n) k(w)""", {"n": workers})
    steps = DAY // STEP
    for day in range(days):
        day_start = end - (days - day) * DAY
        con.execute(SIMULATED_DAY.format(step=STEP, steps=steps, workers=workers), {"day_start": day_start})
        rollup.rollup(day_start + DAY)(con)
        print(f"  simulated day {day + 1}/{days}", flush=True)
    con.execute("CHECKPOINT")


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median wall time in milliseconds over `repeat` runs (after one warm-up) and the last result."""
    result = fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def rollup_vs_raw(con: duckdb.DuckDBPyConnection, end: float, days: int, repeat: int) -> list[tuple[str, float, str]]:
    """The 30-day resources question through rollups and of the raw table; the whole page for 30 d and 1 h."""
    start = end - days * DAY
    keep = days * DAY + DAY  # nothing is pruned in the bench
    tier, bucket = plan(start, end, end, keep, keep)
    rows = []
    ms, points = timed(lambda: resource_points(con, start, end, tier, bucket), repeat)
    rows.append((f"{days} d resources from {tier} rollups ({bucket} s buckets, {len(points)} points)", ms,
                 "storage.history.resource_points, tier chosen by plan()"))
    ms, points = timed(lambda: resource_points(con, start, end, "raw", bucket), repeat)
    rows.append((f"{days} d resources asked of the raw table ({len(points)} points)", ms,
                 "same buckets, raw tier forced"))
    ms, answer = timed(lambda: history(con, start, end, end, keep, keep), repeat)
    rows.append((f"{days} d History page answer ({answer['tier']} tier: resources, tasks, hardware)", ms,
                 "storage.history.history (GET /api/history)"))
    ms, answer = timed(lambda: history(con, end - 3600, end, end, keep, keep), repeat)
    rows.append((f"1 h History page answer ({answer['tier']} tier, {len(answer['points'])} points)", ms,
                 "storage.history.history (GET /api/history)"))
    return rows


SQLITE_QUERY = """SELECT (ts / {bucket}) * {bucket} AS b, avg(cpu_percent), max(cpu_percent), avg(memory_percent),
  max(memory_percent), avg(memory_used_gb), count(DISTINCT worker_id)
FROM worker_samples WHERE ts >= ? AND ts < ? GROUP BY b ORDER BY b"""


def copy_to_sqlite(con: duckdb.DuckDBPyConnection, path: str, start: float, end: float) -> int:
    """The same raw rows (epoch seconds for ts) in SQLite with an index on ts."""
    lite = sqlite3.connect(path)
    lite.execute("""CREATE TABLE worker_samples (ts INTEGER, worker_id TEXT, cpu_percent REAL,
                    memory_used_gb REAL, memory_percent REAL)""")
    reader = con.execute(
        """SELECT CAST(epoch(ts) AS BIGINT), worker_id, cpu_percent, memory_used_gb, memory_percent
           FROM worker_samples WHERE ts >= make_timestamp(CAST($s * 1e6 AS BIGINT))
             AND ts < make_timestamp(CAST($e * 1e6 AS BIGINT))""", {"s": start, "e": end})
    copied = 0
    while batch := reader.fetchmany(200_000):
        lite.executemany("INSERT INTO worker_samples VALUES (?, ?, ?, ?, ?)", batch)
        copied += len(batch)
    lite.execute("CREATE INDEX samples_ts ON worker_samples (ts)")
    lite.commit()
    lite.close()
    return copied


def duckdb_vs_sqlite(con: duckdb.DuckDBPyConnection, workdir: str, end: float, hours: int,
                     repeat: int) -> list[tuple[str, float, str]]:
    """The same bucketed history question over the same rows in both engines."""
    start = end - hours * 3600
    bucket = plan(start, end, end, 10 * DAY, 10 * DAY)[1]
    copied = copy_to_sqlite(con, os.path.join(workdir, "bench.sqlite"), start, end)
    lite = sqlite3.connect(os.path.join(workdir, "bench.sqlite"))
    sqlite_ms, sqlite_rows = timed(lambda: lite.execute(SQLITE_QUERY.format(bucket=bucket), (start, end)).fetchall(),
                                   repeat)
    duck_ms, duck_rows = timed(lambda: resource_points(con, start, end, "raw", bucket), repeat)
    assert len(sqlite_rows) == len(duck_rows), "both engines must answer the same buckets"
    what = f"{hours} h of raw samples ({copied:,} rows), {bucket} s buckets, {len(duck_rows)} points"
    return [(f"DuckDB: {what}", duck_ms, "raw tier, storage.history"),
            (f"SQLite: {what}", sqlite_ms, "same query, index on ts")]


def report(args: argparse.Namespace, raw_rows: int, rows: list[tuple[str, float, str]], load: str) -> str:
    """The Markdown section this script owns."""
    lines = [SECTION, "",
             f"Simulated fleet: {args.workers:,} workers x {args.days} days of {STEP} s samples = {raw_rows:,} raw rows "
             f"(plus minute and hour rollups). Median of {args.repeat} runs after a warm-up, one process, "
             f"DuckDB {duckdb.__version__}, SQLite {sqlite3.sqlite_version}, Python {platform.python_version()}, "
             f"{os.cpu_count()} cores; load average at start: {load}. Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
             "", "| question | median ms | how |", "|---|---:|---|"]
    lines += [f"| {what} | {ms:,.1f} | {how} |" for what, ms, how in rows]
    lines += ["", conclusion(rows, args, raw_rows), ""]
    return "\n".join(lines)


def conclusion(rows: list[tuple[str, float, str]], args: argparse.Namespace, raw_rows: int) -> str:
    """What the figures above say, computed from them (not written in advance)."""
    rolled, raw, _, hour_page, duck, lite = (ms for _, ms, _ in rows)
    return (f"Through rollups the {args.days}-day resources question took {rolled:,.1f} ms; asked of the "
            f"{raw_rows:,} raw rows it took {raw:,.1f} ms ({raw / rolled:,.1f}x slower); the 1-hour page took "
            f"{hour_page:,.1f} ms. On the same raw rows DuckDB answered in {duck:,.1f} ms and SQLite in "
            f"{lite:,.1f} ms ({lite / duck:,.1f}x).")


def write_section(text: str) -> None:
    """Replace only this script's section of docs/PERFORMANCE.md."""
    current = PERFORMANCE.read_text() if PERFORMANCE.exists() else "# Performance\n\n"
    start = current.find(SECTION)
    if start < 0:
        current = current.rstrip("\n") + "\n\n" + text
    else:
        following = current.find("\n## ", start + len(SECTION))
        current = current[:start] + text + ("" if following < 0 else current[following + 1:])
    PERFORMANCE.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--sqlite-hours", type=int, default=24, help="hours of raw rows copied into SQLite")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", default="", help="scratch directory (default: a new temp dir)")
    parser.add_argument("--no-write", action="store_true", help="print, do not update docs/PERFORMANCE.md")
    args = parser.parse_args()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    workdir = args.workdir or tempfile.mkdtemp(prefix="dtmon-bench-")
    end = float(int(time.time()) // 3600 * 3600)
    con = duckdb.connect(os.path.join(workdir, "bench.duckdb"), config={"enable_external_access": False})
    schema.migrate(con)
    print(f"simulating into {workdir} ...", flush=True)
    simulate(con, args.workers, args.days, end)
    raw_rows = con.execute("SELECT count(*) FROM worker_samples").fetchone()[0]
    rows = rollup_vs_raw(con, end, args.days, args.repeat)
    rows += duckdb_vs_sqlite(con, workdir, end, args.sqlite_hours, args.repeat)
    text = report(args, raw_rows, rows, load)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
