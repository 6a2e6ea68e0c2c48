"""Fleet-scale single-event ingest: one heartbeat per request from 10,000 agents, reads under that load.

Seeds a fresh DuckDB with 1,000,000 tasks, 10,000 workers and an hour of their heartbeats (SIMULATED by
bench/fleet.py: Arrow tables through the store's set-based apply and fold, the history by SQL, rolled up),
serves it with `python -m backend serve`, and in one run measures
  1. max rate, closed loop, 64 connections (wrk + bench/heartbeat.lua): the bare endpoint
     (bench/bare_endpoint.py, the baseline), `POST /api/ingest`, and `WS /api/ws/ingest`
     (Python client processes, one heartbeat per message, the next sent after the ack);
  2. a constant 2,000 requests/s of single heartbeats over the 10,000 workers (wrk, paced by
     bench/heartbeat.lua) while a reader GETs /api/monitoring/{cluster,workers,tasks,network,hardware,
     resources} in turn; then counts the stored heartbeats against the acknowledged ones;
  3. or, with --soak S (a run of its own, so that no run holds the machine much over 10 minutes), only
     the same constant load for S seconds, sampling server RSS and file size.
The server's and each load generator's CPU time and the load average are reported beside each figure.
Writes its section of docs/PERFORMANCE.md (the soak its own).

    .venv/bin/python bench/heartbeats.py [--seconds 60] [--rate 2000] [--max-seconds 15]
    .venv/bin/python bench/heartbeats.py --soak 600 [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx
import msgspec
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from backend.settings import Settings  # noqa: E402
from bench.fleet import fleet_tables, heartbeat, sample_history, task_table  # noqa: E402
from bench.ingest import Meter, start_server, tokens  # noqa: E402
from bench.report import write_section  # noqa: E402
from storage.ingest import ApplyEvents, fold_pending, pending  # noqa: E402
from storage import rollup  # noqa: E402
from storage.store import Store  # noqa: E402

LUA = str(ROOT / "bench" / "heartbeat.lua")
READS = ["cluster", "workers", "tasks", "network", "hardware", "resources"]
CONNECTIONS, THREADS = 64, 2
READ_PAUSE_S = 0.1  # between a dashboard's reads: enough of them for a p95 (about 80 per route a minute)


def seed(db: str, workers: int, tasks: int, history: float = 0.0, chunk: int = 200_000) -> int:
    """Tasks first, then `history` seconds of heartbeats every 5 s (rolled up, as the server would have),
    then the fleet with its last heartbeat now, so the load finds every worker online.

    Arrow tables go straight to the store's set-based apply and fold (the path every ingest write
    takes after decoding), skipping only the JSON: seconds, not minutes. Returns the history's samples."""
    store = Store(db).open()
    samples = 0
    offline_after = Settings(db=db).offline_after
    try:
        tasks_end = time.time() - 120
        for first in range(0, tasks, chunk):
            _apply(store, {"task": task_table(tasks, workers, tasks_end, first, chunk)}, offline_after)
        now = time.time()
        if history:
            samples = store.write_sync(lambda con: sample_history(con, workers, now - history, now - 300))
            store.write_sync(rollup.rollup(now - 300))
        _apply(store, fleet_tables(workers, 5, now), offline_after)
    finally:
        store.close()
    return samples


def _apply(store: Store, tables: dict, offline_after: float) -> None:
    now_us = int(time.time() * 1e6)
    store.write_sync(ApplyEvents(tables, now_us, offline_after))
    store.write_sync(fold_pending({group: [table] for group, table in pending(tables).items()}, now_us,
                                  offline_after))


def wrk(port: int, token: str, seconds: float, workers: int, rate: int) -> dict:
    """One wrk run; returns the figures its Lua `done` prints."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s", "-s", LUA,
               "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}", "--",
               str(workers), str(rate), str(THREADS)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = json.loads(output.split("BENCH ", 1)[1].splitlines()[0])
    figures["rate"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["failed"] = sum(figures[k] for k in ("status_errors", "timeouts", "connect_errors", "read_errors",
                                                  "write_errors"))
    return figures


def _ws_agents(port: int, token: str, first: int, count: int, workers: int, stop_at: float, acked) -> None:
    """`count` agents on one process, each on its own socket, one heartbeat per message."""
    from websockets.asyncio.client import connect

    async def agent(k: int) -> int:
        done = 0
        async with connect(f"ws://127.0.0.1:{port}/api/ws/ingest",
                           additional_headers={"Authorization": f"Bearer {token}"}) as socket:
            while time.monotonic() < stop_at:
                event = heartbeat((first + k + done * CONNECTIONS) % workers, done)
                await socket.send(msgspec.json.encode({"id": done, "events": [event]}).decode())
                if json.loads(await socket.recv())["type"] != "ack":
                    raise SystemExit("the ingest socket rejected a heartbeat")
                done += 1
        return done

    async def run() -> int:
        return sum(await asyncio.gather(*(agent(k) for k in range(count))))

    total = asyncio.run(run())
    with acked.get_lock():
        acked.value += total


def ws_rate(port: int, token: str, seconds: float, workers: int, processes: int = 4) -> float:
    acked = multiprocessing.Value("q", 0)
    per = CONNECTIONS // processes
    started = time.monotonic()
    clients = [multiprocessing.Process(target=_ws_agents, args=(port, token, p * per, per, workers,
                                                                 started + seconds, acked)) for p in range(processes)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    return acked.value / (time.monotonic() - started)


def read_loop(port: int, token: str, stop: threading.Event, latencies: dict[str, list[float]]) -> None:
    """A dashboard's REST reads, one route after another with a short pause."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        while not stop.is_set():
            for route in READS:
                started = time.perf_counter()
                client.get(f"/api/monitoring/{route}").raise_for_status()
                latencies[route].append((time.perf_counter() - started) * 1000)
                stop.wait(READ_PAUSE_S)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else float("nan")


def soak(server: psutil.Process, db: str, port: int, token: str, seconds: float, rate: int,
         workers: int) -> tuple[list[tuple[float, int, int]], dict]:
    """(elapsed s, RSS bytes, file bytes) every 10 s under the constant load."""
    samples, result = [], {}
    runner = threading.Thread(target=lambda: result.update(wrk(port, token, seconds, workers, rate)))
    started = time.monotonic()
    runner.start()
    while runner.is_alive():
        samples.append((time.monotonic() - started, server.memory_info().rss, _file_bytes(db)))
        runner.join(10)
    return samples, result


def _file_bytes(db: str) -> int:
    return sum(path.stat().st_size for path in Path(db).parent.glob(Path(db).name + "*"))


def stored_between(db: str, since: float, until: float) -> int:
    """Heartbeats stored with a receive time in [since, until) (read after the server stopped)."""
    con = duckdb.connect(db, read_only=True)
    try:
        return con.execute("SELECT count(*) FROM worker_samples WHERE epoch_us(ts) >= $since AND epoch_us(ts) < $until",
                           {"since": int(since * 1e6), "until": int(until * 1e6)}).fetchone()[0]
    finally:
        con.close()


def start_bare(port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.bare_endpoint:app", "--port", str(port),
                                "--log-level", "warning"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            httpx.post(f"http://127.0.0.1:{port}/api/ingest", content=b'{"events": []}')
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the bare endpoint did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--history", type=float, default=3600, help="seconds of 5 s heartbeats already stored")
    parser.add_argument("--rate", type=int, default=2_000, help="requests/s of the constant load")
    parser.add_argument("--seconds", type=float, default=60, help="length of the constant load")
    parser.add_argument("--max-seconds", type=float, default=15, help="length of each max-rate run")
    parser.add_argument("--soak", type=float, default=0, help="run only a soak of this many seconds")
    args = parser.parse_args()

    from tests.support import free_port
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        db = f"{tmp}/fleet.duckdb"
        started = time.monotonic()
        history = seed(db, args.workers, args.tasks, args.history)
        seeded = time.monotonic() - started
        port, bare_port = free_port(), free_port()
        bare = start_bare(bare_port)
        server_process = start_server(db, port)
        server = psutil.Process(server_process.pid)
        try:
            token, admin = tokens(f"http://127.0.0.1:{port}")
            figures = measure(args, server, psutil.Process(bare.pid), db, port, bare_port, token, admin)
        finally:
            bare.terminate()
            server_process.send_signal(signal.SIGTERM)
            server_process.wait(120)
        figures["stored"] = stored_between(db, *figures.pop("constant_window"))
    figures["load"], figures["history"] = (load_at_start, os.getloadavg()[0]), history
    (report_soak if args.soak else report)(args, seeded, figures)


def measure(args, server: psutil.Process, bare: psutil.Process, db: str, port: int, bare_port: int, token: str,
            admin: str) -> dict:
    out: dict = {}
    wrk(port, token, 3, args.workers, 0)  # warm-up: every worker heard from, caches filled
    if args.soak:
        since = time.time()
        with Meter(server) as meter:
            out["soak"], out["soak_run"] = soak(server, db, port, token, args.soak, args.rate, args.workers)
        out["constant_window"] = (since, time.time())
        out["soak_run"]["cpu"] = meter.cpu()
        return out
    for name, target, process in (("bare", bare_port, bare), ("http", port, server)):
        with Meter(process) as meter:
            out[name] = wrk(target, token, args.max_seconds, args.workers, 0)
        out[name]["cpu"] = meter.cpu()
    with Meter(server) as meter:
        out["ws"] = {"rate": ws_rate(port, token, args.max_seconds, args.workers)}
    out["ws"]["cpu"] = meter.cpu()
    latencies: dict[str, list[float]] = {route: [] for route in READS}
    stop = threading.Event()
    reader = threading.Thread(target=read_loop, args=(port, admin, stop, latencies))
    since = time.time()
    with Meter(server) as meter:
        reader.start()
        out["constant"] = wrk(port, token, args.seconds, args.workers, args.rate)
        out["constant_window"] = (since, time.time())
        stop.set()
        reader.join()
    out["constant"]["cpu"], out["reads"] = meter.cpu(), latencies
    return out


def report(args, seeded: float, f: dict) -> None:
    bare, http, ws, constant = f["bare"], f["http"], f["ws"], f["constant"]
    acknowledged = constant["requests"] - constant["failed"]
    lines = [
        f"Run `{' '.join(['bench/heartbeats.py'] + sys.argv[1:])}` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, DuckDB {duckdb.__version__}; {_quiet(f['load'])} Store seeded in {seeded:.0f} s "
        f"(Arrow tables through the store's apply and fold) "
        f"with {args.tasks:,} tasks, {args.workers:,} workers and {args.history / 60:g} minutes of their heartbeats "
        f"every 5 s up to 5 minutes ago ({f['history']:,} samples, rolled up); `python -m backend serve` on it, load from the "
        f"same machine. Max rate: closed loop, {CONNECTIONS} connections, 1 heartbeat per request, "
        f"{args.max_seconds:g} s each.",
        "",
        "| single-event path | req/s | p50 / p95 / p99 / max ms | CPU (share of one core) |",
        "|---|---|---|---|",
        f"| bare Litestar endpoint, msgspec decode, no auth or storage (wrk) | {bare['rate']:,.0f} | "
        f"{_latency(bare)} | {bare['cpu']} |",
        f"| `POST /api/ingest` (wrk) | {http['rate']:,.0f} | {_latency(http)} | {http['cpu']} |",
        f"| `WS /api/ws/ingest`, ack per message (4 Python client processes) | {ws['rate']:,.0f} | – | {ws['cpu']} |",
        "",
        f"HTTP reaches **{http['rate'] / bare['rate']:.0%}** of the bare endpoint measured in the same run "
        f"(goal ≥ 50 % and ≥ 5,000 req/s); the socket {ws['rate'] / bare['rate']:.0%}.",
        "",
        f"Constant load: {args.rate:,} req/s offered for {args.seconds:g} s (wrk, {CONNECTIONS} connections, each "
        f"wrk thread sending on a fixed schedule), heartbeats cycling through {args.workers:,} workers; "
        f"{constant['cpu']}.",
        "",
        "| achieved req/s | p50 ms | p95 ms | p99 ms | max ms | failed | acknowledged | stored |",
        "|---|---|---|---|---|---|---|---|",
        f"| {constant['rate']:,.0f} | {constant['p50_ms']:.1f} | {constant['p95_ms']:.1f} | {constant['p99_ms']:.1f} "
        f"| {constant['max_ms']:.0f} | {constant['failed']} | {acknowledged:,} | {f['stored']:,} |",
        "",
        f"Goal p95 < 50 ms, p99 < 200 ms, none over 1 s: "
        f"{_met(constant['p95_ms'] < 50 and constant['p99_ms'] < 200 and constant['max_ms'] < 1000)}. "
        f"Every acknowledged heartbeat stored (stored ≥ acknowledged; in-flight ones when wrk stopped may add a "
        f"few): {_met(f['stored'] >= acknowledged)}.",
        "",
        f"Reads during that load (a dashboard's REST calls, one after another with {READ_PAUSE_S * 1000:.0f} ms "
        f"between them, {sum(map(len, f['reads'].values())) / args.seconds:.1f}/s, admin token):",
        "",
        "| route | requests | median ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
        *(f"| `GET /api/monitoring/{route}` | {len(v)} | {statistics.median(v):.1f} | {p95(v):.1f} | {max(v):.0f} |"
          for route, v in f["reads"].items()),
        "",
        f"Goal p95 < 50 ms on every route: {_met(all(p95(v) < 50 for v in f['reads'].values()))}. While ingest "
        f"is busy, readers of `cluster`, `hardware` and `network` share an answer at most 1.5 ticks old, and of "
        f"`resources` at most 10 s old (docs/API.md, Read shapes); `workers` and `tasks` read the store every time.",
    ]
    write_section("bench/heartbeats.py", "\n".join(lines))
    print("\n".join(lines))


def report_soak(args, seeded: float, f: dict) -> None:
    samples, run = f["soak"], f["soak_run"]
    after_minute = next(s for s in samples if s[0] >= 60)
    rss_growth = samples[-1][1] / after_minute[1] - 1
    lines = [
        f"Run `{' '.join(['bench/heartbeats.py'] + sys.argv[1:])}` on the same machine and store as above (seeded in "
        f"{seeded:.0f} s); {_quiet(f['load'])}",
        "",
        f"Soak: {args.rate:,} req/s of single heartbeats for {args.soak:g} s; achieved {run['rate']:,.0f} req/s, p50 "
        f"{run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms, max {run['max_ms']:.0f} ms, {run['failed']} failed, "
        f"{run['requests'] - run['failed']:,} acknowledged, {f['stored']:,} stored; {run['cpu']}.",
        f"Server RSS {after_minute[1] / 2**20:,.0f} MiB after the first minute, {samples[-1][1] / 2**20:,.0f} MiB at "
        f"the end: {rss_growth:+.1%} (goal < 10 %: {_met(rss_growth < 0.10)}). DuckDB file and WAL together "
        f"{after_minute[2] / 2**20:,.0f} MiB after the first minute, {max(s[2] for s in samples) / 2**20:,.0f} MiB at "
        f"most, {samples[-1][2] / 2**20:,.0f} MiB at the end, while {run['requests']:,} heartbeats were added "
        f"(checkpoints move the WAL into the file, so the sum moves both ways).",
    ]
    write_section("bench/heartbeats.py --soak", "\n".join(lines))
    print("\n".join(lines))


def _quiet(load: tuple[float, float]) -> str:
    return (f"no test suite or other bench ran meanwhile (`machine bench`); load average {load[0]:.1f} at the start, "
            f"{load[1]:.1f} at the end (the bench's own server and load generators included).")


def _latency(figures: dict) -> str:
    return " / ".join(f"{figures[k]:.1f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
