"""Ingest throughput: POST /api/ingest with batches of 1,000 heartbeats vs a raw DuckDB Arrow append.

Starts `python -m backend serve` on a free port with a fresh database, posts pre-encoded batches
from several client processes while live subscribers (a dashboard's view) read every update: first
paced at --paced-rate events/s with fresh heartbeats (does the live tick keep its interval?), then as fast as the server
acknowledges, and reports sustained events/s (median of rounds).
Then appends the same rows straight into a DuckDB table with Arrow, in the same run.
Writes its section of docs/PERFORMANCE.md.

    .venv/bin/python bench/ingest.py [--seconds 10] [--rounds 3] [--clients 8] [--watchers 1] [--workers 10000]
        [--paced-rate 100000] [--paced-seconds 20]
"""

from __future__ import annotations

import argparse
import os
import platform
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
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.report import write_section  # noqa: E402
from backend.settings import Settings  # noqa: E402
from bench.fleet import heartbeat_batches  # noqa: E402

PASSWORD = "bench-admin-password"


def start_server(db: str, port: int) -> subprocess.Popen:
    env = os.environ | {"DTMON_ADMIN_PASSWORD": PASSWORD, "DTMON_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "backend", "serve", "--db", db, "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the backend did not start")


def tokens(base: str) -> tuple[str, str]:
    """(ingest token, admin session token)."""
    admin = httpx.post(f"{base}/api/auth/login", json={"username": "admin", "password": PASSWORD}).json()["token"]
    created = httpx.post(f"{base}/api/auth/tokens", json={"role": "ingest", "name": "bench"},
                         headers={"Authorization": f"Bearer {admin}"})
    return created.json()["token"], admin


def watch(port: int, token: str, stop: threading.Event, updates: list[float]) -> None:
    """A dashboard's live subscription: the server builds a snapshot every tick while anyone watches."""
    from websockets.sync.client import connect
    with connect(f"ws://127.0.0.1:{port}/api/ws/monitoring", max_size=None,
                 additional_headers={"Authorization": f"Bearer {token}"}) as socket:
        socket.send(msgspec.json.encode({"type": "subscribe_to_monitoring"}).decode())
        while not stop.is_set():
            try:
                socket.recv(timeout=0.5)
            except TimeoutError:
                continue
            updates.append(time.monotonic())


def _poster(port: int, token: str, bodies: list[bytes], stop_at: float, sent, interval: float = 0.0) -> None:
    """One client process: keep-alive http.client, bodies encoded beforehand (the client stays cheap);
    with an interval, one body per interval on a fixed schedule (a paced load), else as fast as acked."""
    import http.client
    import json
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    i, due = 0, time.monotonic()
    while time.monotonic() < stop_at:
        due += interval
        time.sleep(max(0.0, due - time.monotonic()))
        connection.request("POST", "/api/ingest", body=bodies[i % len(bodies)], headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"ingest answered {response.status}: {body[:200]!r}")
        with sent.get_lock():
            sent.value += json.loads(body)["accepted"]
        i += 1


def post_for(port: int, token: str, bodies: list[bytes], seconds: float, clients: int, rate: float = 0) -> float:
    """Events/s acknowledged by the server over `seconds` with `clients` client processes (paced to
    `rate` events/s in all when given)."""
    import multiprocessing
    sent = multiprocessing.Value("q", 0)
    started = time.monotonic()
    stop_at = started + seconds
    interval = clients * 1000 / rate if rate else 0.0  # bodies of 1,000 events
    processes = [multiprocessing.Process(target=_poster, args=(port, token, bodies[k::clients], stop_at, sent, interval))
                 for k in range(clients)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return sent.value / (time.monotonic() - started)


def intervals(arrivals: list[list[float]], since: float, until: float) -> list[float]:
    """Seconds between consecutive live updates that both arrived within [since, until)."""
    return [b - a for times in arrivals for a, b in zip(times, times[1:]) if since <= a and b < until] or [float("nan")]


def arrow_append_rate(rows: list[dict], repeats: int) -> float:
    """Rows/s of a plain Arrow append into a DuckDB table shaped like worker_samples."""
    table = pa.Table.from_pylist(rows)
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(f"{tmp}/raw.duckdb")
        con.register("batch", table)
        con.execute("CREATE TABLE samples AS SELECT * FROM batch LIMIT 0")
        started = time.perf_counter()
        for _ in range(repeats):
            con.execute("INSERT INTO samples SELECT * FROM batch")
        elapsed = time.perf_counter() - started
        con.close()
    return table.num_rows * repeats / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--watchers", type=int, default=1, help="live /api/ws/monitoring subscribers")
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--paced-rate", type=int, default=100_000, help="events/s of the live-tick phase")
    parser.add_argument("--paced-seconds", type=float, default=20)
    args = parser.parse_args()

    batches = heartbeat_batches(args.workers, batch_size=1000, count=200)
    bodies = [msgspec.json.encode({"events": batch}) for batch in batches]
    # The paced phase replays its bodies many times; without `ts` the server stamps each heartbeat at
    # receipt, so every replay is a worker's newest heartbeat, as a live fleet's would be (a replayed
    # ts changes nothing, and a live view with nothing new sends nothing).
    live_bodies = [msgspec.json.encode({"events": [{k: v for k, v in event.items() if k != "ts"} for event in batch]})
                   for batch in batches]
    with tempfile.TemporaryDirectory() as tmp:
        from tests.support import free_port  # a free local port, as the tests pick one
        port = free_port()
        server = start_server(f"{tmp}/bench.duckdb", port)
        try:
            base = f"http://127.0.0.1:{port}"
            token, admin = tokens(base)
            stop, arrivals = threading.Event(), [[] for _ in range(args.watchers)]
            watchers = [threading.Thread(target=watch, args=(port, admin, stop, times)) for times in arrivals]
            for watcher in watchers:
                watcher.start()
            post_for(port, token, bodies[:8], 2, args.clients)  # warm-up
            paced_from = time.monotonic()
            paced = post_for(port, token, live_bodies, args.paced_seconds, args.clients, args.paced_rate)
            loaded_from = time.monotonic()
            api = [post_for(port, token, bodies, args.seconds, args.clients) for _ in range(args.rounds)]
            ticks = intervals(arrivals, paced_from, loaded_from)
            max_ticks = intervals(arrivals, loaded_from, time.monotonic())
            stop.set()
            for watcher in watchers:
                watcher.join()
        finally:
            server.terminate()
            server.wait(60)
    print(f"API events/s per round: {[round(x) for x in api]}", flush=True)
    flat = [{k: v for k, v in event.items() if k != "kind"} for batch in batches[:20] for event in batch]
    raw = [arrow_append_rate(flat, 20) for _ in range(args.rounds)]
    api_median, raw_median = statistics.median(api), statistics.median(raw)
    lines = [
        f"Run `{' '.join(['bench/ingest.py'] + sys.argv[1:])}` on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, DuckDB {duckdb.__version__}; "
        f"{args.clients} client processes (http.client, keep-alive, bodies encoded beforehand) on the same machine, "
        f"{args.watchers} live subscriber(s) on /api/ws/monitoring ({sum(map(len, arrivals))} updates received), batches of 1,000 heartbeats from "
        f"{args.workers:,} simulated workers (bench/fleet.py), {args.rounds} rounds of {args.seconds:g} s.",
        "",
        "| path | median events/s | rounds |",
        "|---|---|---|",
        f"| `POST /api/ingest` (validate, commit, then 200) | {api_median:,.0f} | {', '.join(f'{x:,.0f}' for x in api)} |",
        f"| raw DuckDB Arrow append (no HTTP, no validation, no upserts) | {raw_median:,.0f} | "
        f"{', '.join(f'{x:,.0f}' for x in raw)} |",
        "",
        f"The API sustains {api_median / raw_median:.1%} of the raw append rate; targets: at least 100,000 "
        f"heartbeats/s → {'met' if api_median >= 100_000 else 'NOT met'}; at least 300,000 → "
        f"{'met' if api_median >= 300_000 else 'NOT met'}. Load average at the end: {os.getloadavg()[0]:.1f}.",
        "",
        f"Live view while ingest ran paced at {args.paced_rate:,} events/s for {args.paced_seconds:g} s (achieved "
        f"{paced:,.0f}/s): the subscriber received an update every {statistics.median(ticks):.1f} s (median; slowest "
        f"{max(ticks):.1f} s, {len(ticks)} intervals) against a tick of {Settings().tick_interval:g} s → "
        f"{'met' if max(ticks) <= 1.5 * Settings().tick_interval else 'NOT met'} (every interval within 1.5 ticks). "
        f"At the maximum rate above, updates came every {statistics.median(max_ticks):.1f} s (median; slowest "
        f"{max(max_ticks):.1f} s).",
    ]
    write_section("bench/ingest.py", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
