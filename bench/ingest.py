"""Ingest throughput: POST /api/ingest with batches of 1,000 heartbeats vs a raw DuckDB Arrow append.

Starts `python -m backend serve` on a free port with a fresh database while live subscribers (a
dashboard's view) read every update: first paced at --paced-rate events/s with fresh heartbeats from
Python client processes (does the live tick keep its interval?), then as fast as the server
acknowledges, driven by wrk (bench/batches.lua) cycling through bodies encoded beforehand without `ts`
(the server stamps them, so every body is fresh), and reports sustained events/s (median of rounds)
with the CPU of the server, its helper processes and wrk beside it.
Then appends the same rows straight into a DuckDB table with Arrow, in the same run.
Writes its section of docs/PERFORMANCE.md.

    .venv/bin/python bench/ingest.py [--seconds 10] [--rounds 3] [--connections 16] [--clients 8]
        [--watchers 1] [--workers 10000] [--paced-rate 100000] [--paced-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.report import write_section  # noqa: E402
from backend.settings import Settings  # noqa: E402
from bench.fleet import heartbeat_batches  # noqa: E402

PASSWORD = "bench-admin-password"
LUA = str(ROOT / "bench" / "batches.lua")
WRK_THREADS = 2


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


class Meter:
    """Shares of a core over a phase: the server under test, its own child processes (the helpers),
    and this process's finished children (the load generators); the load average at the end."""

    def __init__(self, server: psutil.Process) -> None:
        self.server = server

    def _now(self) -> tuple[float, ...]:
        helpers = sum(_seconds(child.cpu_times()) for child in self.server.children(recursive=True))
        finished = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.monotonic(), _seconds(self.server.cpu_times()), helpers, finished.ru_utime + finished.ru_stime

    def __enter__(self) -> "Meter":
        self.started = self._now()
        return self

    def __exit__(self, *_) -> None:
        ended = self._now()
        wall = ended[0] - self.started[0]
        self.server_share, self.helpers_share, self.generator_share = (
            (b - a) / wall for a, b in zip(self.started[1:], ended[1:]))
        self.load = os.getloadavg()[0]

    def cpu(self) -> str:
        """For single-event loads, which start no helper."""
        return f"server {self.server_share:.0%} / generator {self.generator_share:.0%} of a core, load {self.load:.1f}"

    def __str__(self) -> str:
        return (f"server {self.server_share:.0%} + its helper processes {self.helpers_share:.0%} / wrk "
                f"{self.generator_share:.0%} of a core")


def _seconds(times) -> float:
    return times.user + times.system


def wrk_rate(port: int, token: str, bodies_file: str, seconds: float, connections: int) -> float:
    """Events/s acknowledged over one closed-loop wrk run of 1,000-event bodies; any failure ends the bench."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", LUA,
               "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}", "--", bodies_file,
               str(WRK_THREADS)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = json.loads(output.split("BENCH ", 1)[1].splitlines()[0])
    failed = {k: v for k, v in figures.items() if k.endswith("errors") or k == "timeouts"}
    if any(failed.values()):
        raise SystemExit(f"wrk saw failures: {failed}")
    return figures["requests"] * 1000 / (figures["duration_us"] / 1e6)


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
    parser.add_argument("--connections", type=int, default=16, help="wrk connections of the max-rate rounds")
    parser.add_argument("--clients", type=int, default=8, help="client processes of the paced phase")
    parser.add_argument("--watchers", type=int, default=1, help="live /api/ws/monitoring subscribers")
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--paced-rate", type=int, default=100_000, help="events/s of the live-tick phase")
    parser.add_argument("--paced-seconds", type=float, default=20)
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    batches = heartbeat_batches(args.workers, batch_size=1000, count=200)
    # Bodies are replayed many times; without `ts` the server stamps each heartbeat at receipt, so
    # every replay is a worker's newest heartbeat, as a live fleet's would be (a replayed ts changes
    # nothing, and a live view with nothing new sends nothing).
    bodies = [msgspec.json.encode({"events": [{k: v for k, v in event.items() if k != "ts"} for event in batch]})
              for batch in batches]
    with tempfile.TemporaryDirectory() as tmp:
        from tests.support import free_port  # a free local port, as the tests pick one
        bodies_file = Path(tmp, "bodies.jsonl")
        bodies_file.write_bytes(b"\n".join(bodies) + b"\n")
        port = free_port()
        server = start_server(f"{tmp}/bench.duckdb", port)
        try:
            token, admin = tokens(f"http://127.0.0.1:{port}")
            stop, arrivals = threading.Event(), [[] for _ in range(args.watchers)]
            watchers = [threading.Thread(target=watch, args=(port, admin, stop, times)) for times in arrivals]
            for watcher in watchers:
                watcher.start()
            post_for(port, token, bodies[:8], 2, args.clients)  # warm-up
            paced_from = time.monotonic()
            paced = post_for(port, token, bodies, args.paced_seconds, args.clients, args.paced_rate)
            loaded_from = time.monotonic()
            with Meter(psutil.Process(server.pid)) as cpu:
                api = [wrk_rate(port, token, str(bodies_file), args.seconds, args.connections)
                       for _ in range(args.rounds)]
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
    load = (load_at_start, os.getloadavg()[0])
    report(args, api, raw, cpu, load, paced, ticks, max_ticks, sum(map(len, arrivals)))


def report(args, api: list[float], raw: list[float], cpu: Meter, load: tuple[float, float], paced: float,
           ticks: list[float], max_ticks: list[float], updates: int) -> None:
    api_median, raw_median = statistics.median(api), statistics.median(raw)
    tick = Settings().tick_interval
    lines = [
        f"Run `{' '.join(['bench/ingest.py'] + sys.argv[1:])}` on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, DuckDB {duckdb.__version__}; load average "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end (`os.getloadavg`, the bench's own processes "
        f"included); {args.watchers} live subscriber(s) on /api/ws/monitoring ({updates} updates received); "
        f"batches of 1,000 heartbeats without `ts` from {args.workers:,} simulated workers (bench/fleet.py). "
        f"Maximum rate: wrk ({WRK_THREADS} threads, {args.connections} connections, keep-alive, bench/batches.lua "
        f"cycling through 200 bodies encoded beforehand), {args.rounds} rounds of {args.seconds:g} s.",
        "",
        "| path | median events/s | rounds |",
        "|---|---|---|",
        f"| `POST /api/ingest` (validate, commit, then 200) | {api_median:,.0f} | {', '.join(f'{x:,.0f}' for x in api)} |",
        f"| raw DuckDB Arrow append (no HTTP, no validation, no upserts) | {raw_median:,.0f} | "
        f"{', '.join(f'{x:,.0f}' for x in raw)} |",
        "",
        f"The API sustains {api_median / raw_median:.1%} of the raw append rate measured in the same run; targets: "
        f"at least 100,000 heartbeats/s → {_met(api_median >= 100_000)}; at least 300,000 → "
        f"{_met(api_median >= 300_000)}. CPU over the maximum-rate rounds: {cpu}.",
        "",
        f"Live view while ingest ran paced at {args.paced_rate:,} events/s for {args.paced_seconds:g} s ({args.clients} "
        f"Python client processes, achieved {paced:,.0f}/s): the subscriber received an update every "
        f"{statistics.median(ticks):.1f} s (median; slowest {max(ticks):.1f} s, {len(ticks)} intervals) against a "
        f"tick of {tick:g} s → {_met(max(ticks) <= 1.5 * tick)} (every interval within 1.5 ticks). At the maximum "
        f"rate above, updates came every {statistics.median(max_ticks):.1f} s (median; slowest "
        f"{max(max_ticks):.1f} s).",
    ]
    write_section("bench/ingest.py", "\n".join(lines))
    print("\n".join(lines))


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
