"""Dashboard speed: each page's script run over a large store, and backend requests vs open sessions.

Seeds a fresh DuckDB with the FLEET SIMULATOR (bench/fleet.py: 10,000 workers, 1,000,000 tasks)
through the real ingest path, serves it with the real backend in this process (wrapped to count
requests), then
  1. runs every core page's script with Streamlit's AppTest and times each run, with the live
     snapshot off and caches cleared (every section fetched over REST: the worst case), and again
     with the live snapshot on and caches warm (the steady state);
  2. starts `streamlit run streamlit_app.py` against that backend, opens 1 and then 20 signed-in
     Chromium sessions on Overview with the default 5 s refresh, and counts backend requests.
Writes its section of docs/PERFORMANCE.md.

    .venv/bin/python bench/dashboard.py [--workers 10000] [--tasks 1000000] [--seconds 60]
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
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import msgspec
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from backend import schemas  # noqa: E402
from backend.app import create_app  # noqa: E402
from backend.ingest import IngestService  # noqa: E402
from backend.settings import Settings  # noqa: E402
from bench.fleet import heartbeat, registrations, task_events  # noqa: E402
from bench.report import write_section  # noqa: E402
from storage.store import Store  # noqa: E402

PASSWORD = "bench-admin-password"
ROW_ORDER = ["data (/api/monitoring/*)", "token checks (/api/auth/me)", "websocket connects"]
PAGES = ["pages/overview.py", "pages/workers.py", "pages/tasks.py", "pages/network.py", "pages/hardware.py"]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def seed(settings: Settings, workers: int, tasks: int, batch: int = 100_000) -> float:
    """Write the simulated fleet through IngestService (the code behind POST /api/ingest)."""
    store = Store(settings.db, settings.duckdb_memory_limit, settings.duckdb_threads).open()
    service, started, now = IngestService(store, settings), time.time(), time.time()
    fleet = registrations(workers) + [heartbeat(i, step, now - 60 * (9 - step))
                                      for step in range(10) for i in range(workers)]
    await _send(service, fleet, batch)
    await _send(service, task_events(tasks, workers, now), batch)
    await service.fold()
    store.close()
    return time.time() - started


async def _send(service: IngestService, events: list[dict], batch: int) -> None:
    for start in range(0, len(events), batch):
        await service.ingest(msgspec.convert({"events": events[start:start + batch]}, schemas.IngestBatch))


class CountingApp:
    """ASGI wrapper counting requests per route family, so the bench sees what the dashboard costs."""

    def __init__(self, inner) -> None:
        self.inner, self.counts, self.lock = inner, Counter(), threading.Lock()
        self.refuse_sockets = False  # True simulates a socket outage: the dashboard must poll

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            with self.lock:
                self.counts[family(scope["type"], scope["path"])] += 1
        if scope["type"] == "websocket" and self.refuse_sockets:
            await receive()  # accept, then close with 1013 "try again later", as an overloaded backend would
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1013})
            return
        await self.inner(scope, receive, send)

    def take(self) -> Counter:
        with self.lock:
            taken, self.counts = self.counts, Counter()
        return taken


def family(kind: str, path: str) -> str:
    """Group request paths: data reads, the per-viewer token check, the rest."""
    if kind == "websocket":
        return "websocket connects"
    if path.startswith("/api/monitoring/"):
        return "data (/api/monitoring/*)"
    if path == "/api/auth/me":
        return "token checks (/api/auth/me)"
    return "other (" + "/".join(path.split("/")[:3]) + ")"


def serve(app, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def admin_token(base: str) -> str:
    response = httpx.post(f"{base}/api/auth/login", json={"username": "admin", "password": PASSWORD}, timeout=30)
    return response.raise_for_status().json()["token"]


def time_pages(url: str, live: bool, repeats: int) -> dict[str, list[float]]:
    """Seconds per script run of each page in AppTest, signed in as admin."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from ui import data

    os.environ["DTMON_API_URL"] = url
    token, times = admin_token(url), {}
    backend = data.connect(url)
    for page in PAGES:
        app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
        app.session_state["dtmon_auth"] = {"name": "admin", "role": "admin", "token": token}
        app.run()
        app.switch_page(page)
        times[page] = []
        for _ in range(repeats):
            if not live:
                backend.live.stop()
                backend.live.connected = False
                st.cache_data.clear()
            started = time.perf_counter()
            app.run()
            times[page].append(time.perf_counter() - started)
            assert not app.exception, app.exception
    return times


def wait_live(url: str, seconds: float = 60) -> None:
    """Block until this process' shared subscriber holds a snapshot."""
    from ui import data
    from ui.live import LiveSubscriber

    backend = data.connect(url)
    if backend.live._stop.is_set():
        object.__setattr__(backend, "live", LiveSubscriber(backend.live.ws_url))
    backend.live.offer_token(admin_token(url))
    deadline = time.monotonic() + seconds
    while not backend.live.is_live() and time.monotonic() < deadline:
        time.sleep(0.2)


def count_requests(api_url: str, counter: CountingApp, sessions: int, seconds: float) -> Counter:
    """Backend requests while `sessions` signed-in browser tabs sit on Overview (5 s refresh)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTMON_")} | {"DTMON_API_URL": api_url}
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
               "--server.headless", "true"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            # Tabs sign in with the refresh off (twenty loading tabs would starve each other on two
            # cores), then each picks the default 5 s in its sidebar, as a viewer would.
            pages = [_signed_in_page(browser, port) for _ in range(sessions)]
            for page in pages:
                page.get_by_role("combobox", name="Refresh interval").click()
                page.get_by_role("option", name="5 s", exact=True).click()
            time.sleep(15)  # first reruns are not the steady state being measured
            counter.take()
            time.sleep(seconds)
            counted = counter.take()
            browser.close()
        return counted
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_http(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


def _signed_in_page(browser, port: int):
    page = browser.new_context().new_page()
    page.set_default_timeout(180_000)  # twenty tabs on two cores load slowly; slowness is not the measure
    page.goto(f"http://127.0.0.1:{port}/monitoring?refresh=0")
    page.get_by_role("textbox", name="Username").fill("admin")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Cluster overview").wait_for(timeout=120_000)
    return page


def report(args, seed_seconds: float | None, cold: dict, warm: dict, traffic: dict[tuple, Counter]) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [f"Run `bench/dashboard.py --workers {args.workers} --tasks {args.tasks} --seconds {args.seconds}` "
             f"on {machine}. Store: {args.workers:,} workers (10 heartbeats each) and {args.tasks:,} tasks from "
             f"the fleet simulator, written through IngestService"
             + (f" in {seed_seconds:.0f} s" if seed_seconds else "") + ". Backend in the "
             "bench process (uvicorn), pages run by Streamlit's AppTest signed in as admin.", "",
             "| page | cold: REST, caches cleared (median s) | cold: slowest run (s) "
             "| warm: live snapshot, cached (median s) | target: median < 1.5 s |",
             "|---|---|---|---|---|"]
    for page in PAGES:
        worst = statistics.median(cold[page])
        lines.append(f"| `{page}` | {worst:.2f} | {max(cold[page]):.2f} | {statistics.median(warm[page]):.2f} | "
                     f"{'met' if worst < 1.5 else 'NOT met'} |")
    lines += ["", "The slowest cold run is each page's first run after the backend opened the store; "
              "the median is the steady cost of a run whose data is not cached."]
    lines += ["", f"Backend requests per minute with the dashboard (`streamlit run streamlit_app.py` with "
              f"`DTMON_API_URL`) and N signed-in Chromium tabs on Overview refreshing every 5 s (the default), "
              f"counted over {args.seconds:.0f} s after a 15 s warm-up; *polling* refuses the live socket so "
              "every page falls back to REST:", "",
              "| requests/min | " + " | ".join(f"{mode}, {n} session{'s' if n > 1 else ''}"
                                                for mode, n in traffic) + " |",
              "|---|" + "---|" * len(traffic)]
    found = {f for counted in traffic.values() for f in counted}
    for name in ROW_ORDER + sorted(found - set(ROW_ORDER)):
        lines.append(f"| {name} | " + " | ".join(
            f"{traffic[key][name] * 60 / args.seconds:.1f}" for key in traffic) + " |")
    verdicts = []
    for mode in dict.fromkeys(mode for mode, _ in traffic):
        data = [traffic[key][ROW_ORDER[0]] for key in traffic if key[0] == mode]
        verdicts.append(f"{mode}: " + ("met" if max(data) <= min(data) * 1.25 + 2 else "NOT met"))
    lines += ["", "Target: data requests the same for 1 and 20 sessions → " + "; ".join(verdicts)
              + ". Each viewer's own token is re-checked with `/api/auth/me` at most every 15 s, so that "
              "line grows with the number of signed-in viewers by design; everything else is shared."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--db", help="reuse this seeded file (seeded first when it does not exist)")
    args = parser.parse_args()
    db = args.db or str(Path(tempfile.mkdtemp(prefix="dtmon-bench-dashboard-")) / "bench.duckdb")
    settings = Settings(db=db, admin_password=PASSWORD, heartbeat_interval=3600.0)
    seed_seconds = None if Path(db).exists() else asyncio.run(seed(settings, args.workers, args.tasks))
    print(f"store {db} seeded in {seed_seconds} s", flush=True)
    counter = CountingApp(create_app(settings))
    port = free_port()
    server = serve(counter, port)
    url = f"http://127.0.0.1:{port}"
    cold = time_pages(url, live=False, repeats=args.repeats)
    wait_live(url)
    warm = time_pages(url, live=True, repeats=args.repeats)
    print("pages timed: cold", cold, "warm", warm, flush=True)
    from ui import data
    data.connect(url).live.stop()  # from here on only the dashboard server's subscriber counts
    traffic = {}
    for mode in ("live", "polling"):
        counter.refuse_sockets = mode == "polling"
        for n in args.sessions:
            traffic[mode, n] = count_requests(url, counter, n, args.seconds)
            print(mode, n, "sessions:", dict(traffic[mode, n]), flush=True)
    server.should_exit = True
    text = report(args, seed_seconds, cold, warm, traffic)
    print(text)
    write_section("bench/dashboard.py", text)


if __name__ == "__main__":
    main()
