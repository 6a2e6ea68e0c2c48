"""The live view's snapshot build under batched ingest, section by section, on a 10,000-worker, 1,000,000-task store.

Seeds the store as bench/heartbeats.py does and opens it in this process with the server's own pieces
(Store, IngestService, the tick's fold and stale check, the live view's section readers). Batches of
1,000 heartbeats arrive paced at --rate events/s from 8 concurrent senders, without `ts` (stamped on
receipt, so each is newer than the last, as agents send them); every tick (2 s, on a fixed cadence as the
server's) folds, marks stale workers, then reads every section of the live view on a cursor, each timed.
Writes its section of docs/PERFORMANCE.md.

    .venv/bin/python bench/snapshot.py [--rate 100000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from backend import schemas  # noqa: E402
from backend.background import mark_stale  # noqa: E402
from backend.ingest import IngestService  # noqa: E402
from backend.live import RESOURCES_EVERY_S, section_readers  # noqa: E402
from backend.settings import Settings  # noqa: E402
from bench.fleet import heartbeat  # noqa: E402
from bench.heartbeats import seed  # noqa: E402
from bench.report import write_section  # noqa: E402
from storage.settled import SettledHistory  # noqa: E402
from storage.store import Store  # noqa: E402

SENDERS, BATCH = 8, 1000


def batches(workers: int, count: int) -> list[schemas.IngestBatch]:
    """Decoded batches cycling through the fleet, without timestamps."""
    return [schemas.IngestBatch(events=[schemas.WorkerHeartbeat(**{k: v for k, v in heartbeat(n % workers, n // workers)
                                                                 .items() if k != "kind"})
                                        for n in range(b * BATCH, (b + 1) * BATCH)]) for b in range(count)]


async def send(ingest: IngestService, bodies: list[schemas.IngestBatch], interval: float, stop_at: float) -> int:
    """One sender on a fixed schedule; returns the events acknowledged."""
    sent, due = 0, time.monotonic()
    while time.monotonic() < stop_at:
        due += interval
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        sent += await ingest.ingest(bodies[sent // BATCH % len(bodies)])
    return sent


def timed_sections(settings: Settings, settled: SettledHistory):
    """A reader timing each section of the live view (ms), all on one cursor as the hub reads them."""
    def read(cur) -> dict[str, float]:
        spent = {}
        for name, section in section_readers(settings, time.time(), settled).items():
            started = time.perf_counter()
            section(cur)
            spent[name] = (time.perf_counter() - started) * 1000
        return spent
    return read


async def ticks(store: Store, ingest: IngestService, settings: Settings, stop_at: float) -> list[dict[str, float]]:
    """The server's tick with the snapshot read section by section; one dict of ms per tick."""
    out = []
    while time.monotonic() < stop_at:
        started = time.monotonic()
        await ingest.fold()
        folded = time.monotonic()
        await store.write(mark_stale(time.time(), settings.offline_after))
        staled = time.monotonic()
        spent = await store.read(timed_sections(settings, ingest.settled))
        ended = time.monotonic()
        out.append(spent | {"fold": (folded - started) * 1000, "stale": (staled - folded) * 1000,
                            "snapshot": (ended - staled) * 1000, "tick": (ended - started) * 1000,
                            "start": started})
        await asyncio.sleep(max(0.0, settings.tick_interval - (time.monotonic() - started)))
    return out


async def run(db: str, rate: int, seconds: float, workers: int) -> tuple[float, list[dict[str, float]]]:
    settings = Settings(db=db)
    store = Store(db).open()
    try:
        ingest = IngestService(store, settings)
        bodies = batches(workers, 100)
        await ingest.ingest(bodies[0])  # warm-up
        started = time.monotonic()
        stop_at = started + seconds
        senders = [send(ingest, bodies[k::SENDERS], SENDERS * BATCH / rate, stop_at) for k in range(SENDERS)]
        results = await asyncio.gather(ticks(store, ingest, settings, stop_at), *senders)
        return sum(results[1:]) / (time.monotonic() - started), results[0]
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=100_000, help="heartbeats/s, batches of 1,000")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        db = f"{tmp}/fleet.duckdb"
        seed(db, args.workers, args.tasks)
        achieved, measured = asyncio.run(run(db, args.rate, args.seconds, args.workers))
    report(args, achieved, measured[1:], (load_at_start, os.getloadavg()[0]))  # the first tick folds the warm-up


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def report(args, achieved: float, measured: list[dict[str, float]], load: tuple[float, float]) -> None:
    tick = Settings().tick_interval
    gaps = [b["start"] - a["start"] for a, b in zip(measured, measured[1:])]
    rows = [f"| {name} | {statistics.median(m[name] for m in measured):.1f} | {max(m[name] for m in measured):.1f} |"
            for name in [*section_readers(Settings(), 0), "snapshot", "fold", "stale", "tick"]]
    lines = [
        f"Run `{' '.join(['bench/snapshot.py'] + sys.argv[1:])}` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, commit {commit()}; load average {load[0]:.1f} at the start, "
        f"{load[1]:.1f} at the end. Store seeded with {args.tasks:,} tasks and {args.workers:,} workers, opened in "
        f"the bench's process with the server's Store and IngestService; batches of 1,000 heartbeats without `ts` "
        f"from {SENDERS} paced senders at {args.rate:,} events/s for {args.seconds:g} s (achieved {achieved:,.0f}/s), "
        f"and the server's tick every {tick:g} s: fold, stale check, then every section of the live view read on "
        f"one cursor, timed ({len(measured)} ticks).",
        "",
        "| step (ms) | median | max |",
        "|---|---|---|",
        *rows,
        "",
        f"`resources` is timed every tick here, through the kept chart buckets (storage/settled.py); the hub "
        f"re-reads it every {RESOURCES_EVERY_S:g} s and reuses it between. Ticks started every "
        f"{statistics.median(gaps):.2f} s (median; longest {max(gaps):.2f} s) against "
        f"{tick:g} s → {'met' if max(gaps) <= 1.5 * tick else 'NOT met'} (every tick within 1.5 intervals).",
    ]
    write_section("bench/snapshot.py", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
