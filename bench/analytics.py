"""Benchmark: test analytics accuracy over the simulator's known truth, and speed at 1,000,000 results.

SIMULATED DATA: bench/results_sim.py scripts flaky, broken and stable tests, one bad worker and
benchmark series with injected steps; nothing here is product data. Accuracy runs the detectors on a
scratch DuckDB file per seed; speed starts the dashboard with its embedded API (`streamlit run
streamlit_app.py`) on a scratch file, fills it through POST /api/ingest, then times a 10,000-case JUnit
upload, the requests the Tests page makes, and the Tests page itself loading in Chromium. Each part
writes its own section of docs/PERFORMANCE.md.

    python bench/analytics.py --part accuracy            # 20 seeds (section `## bench/analytics.py`)
    python bench/analytics.py --part speed               # 1,000,000 results (`## bench/analytics.py — speed`)
    python bench/analytics.py --part speed --results 100000 --repeats 3 --no-write
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import msgspec  # noqa: E402
import numpy as np  # noqa: E402

from bench import step_accuracy  # noqa: E402
from bench.dashboard import CHROMIUM_ARGS, free_port  # noqa: E402
from bench.report import write_section  # noqa: E402
from bench.results_sim import simulate  # noqa: E402
from storage import benchmarks  # noqa: E402
from backend import analytics  # noqa: E402
from backend.settings import Settings  # noqa: E402
from storage.store import Store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-analytics-password"
PAGE_REQUESTS = [("/api/tests/flaky", {"verdict": "flaky", "limit": 25}), ("/api/tests/matrix", {"limit": 25}),
                 ("/api/tests/failure-groups", {"limit": 25}), ("/api/tests/suspect-workers", {}),
                 ("/api/tests/quarantine", {})]


def load(store: Store, events: list[dict], batch: int = 20_000) -> None:
    """Through the ingest write path the server uses (decode, Arrow tables, set-based insert)."""
    from backend.ingest import BodyWrite

    for start in range(0, len(events), batch):
        body = msgspec.json.encode({"events": events[start:start + batch]})
        store.write_sync(BodyWrite([(body, time.time())], 15.0, lambda _: None))


def accuracy(seed: int, folder: str) -> dict[str, object]:
    sim = simulate(seed=seed)
    store = Store(f"{folder}/seed{seed}.duckdb").open()
    try:
        load(store, sim.tests + sim.benchmarks)
        cur = store.cursor()
        snapshot = analytics.compute(cur, Settings(), 0)
        bad = sorted({row["worker_id"] for row in snapshot.suspects if row["suspect"]})
        flagged = {(row["test_id"], row["hardware"]) for row in snapshot.pairs.to_pylist() if row["verdict"] == "flaky"}
        stable_flagged = {test for test, _ in flagged if test in sim.truth.stable}
        series = benchmarks.series(cur, benchmarks.series_filter(None, "", None), 200)
    finally:
        store.close()
    return {"flaky": len(sim.truth.flaky), "flaky_found": len(flagged & sim.truth.flaky),
            "flaky_false": len(flagged - sim.truth.flaky), "stable_flagged": len(stable_flagged),
            "bad_found": int(bad == [sim.truth.bad_worker]), "good_flagged": len(set(bad) - {sim.truth.bad_worker}),
            "steps": len(sim.truth.steps), "flat": len(sim.truth.flat),
            "methods": {name: step_accuracy.score(series, sim.truth, method)
                        for name, method in step_accuracy.METHODS.items()},
            "oracle": step_accuracy.oracle(series, sim.truth)}


def junit_report(cases: int) -> bytes:
    lines = ['<?xml version="1.0" encoding="utf-8"?>', f'<testsuites><testsuite name="bench" tests="{cases}">']
    for i in range(cases):
        body = '<failure message="AssertionError: 1 != 2">assert 1 == 2</failure>' if i % 50 == 0 else ""
        lines.append(f'<testcase classname="tests.test_mod{i // 100}" name="test_case_{i}" time="0.01">{body}</testcase>')
    return "\n".join(lines + ["</testsuite></testsuites>"]).encode()


def start_dashboard(db: str, port: int) -> subprocess.Popen:
    """`streamlit run streamlit_app.py` as deployed by default: the dashboard and the API on one port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTMON_")}
    env |= {"DTMON_DB": db, "DTMON_ADMIN_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).is_success:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the dashboard did not start")


def big_results(results: int) -> list[dict]:
    """About `results` test results: 4 hardware x tests x runs (+ reruns), 30 runs each."""
    tests = max(10, round(results / (4 * 30 * 1.06)))
    return simulate(runs=30, tests=tests, per_hardware=8, benchmarks=10, bench_runs=60, seed=1).tests


def speed(results: int, repeats: int, folder: str) -> dict[str, object]:
    port = free_port()
    process = start_dashboard(f"{folder}/speed.duckdb", port)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=300) as http:
            token = http.post("/api/auth/login", json={"username": "admin", "password": PASSWORD}).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            events = big_results(results)
            started = time.perf_counter()
            for start in range(0, len(events), 25_000):
                http.post("/api/ingest", content=msgspec.json.encode({"events": events[start:start + 25_000]}),
                          headers=auth | {"Content-Type": "application/json"}).raise_for_status()
            load_s = time.perf_counter() - started
            report = junit_report(10_000)
            junit = [_timed(lambda i=i: http.post("/api/results/junit", content=report, headers=auth, params={
                "run_id": f"junit-{i}", "worker_id": "ci-1", "hardware": "cpu"}).raise_for_status())
                for i in range(repeats)]
            time.sleep(10)  # the analytics pass over the new results runs in the background
            calls = {path: [_timed(lambda p=path, q=params: http.get(p, params=q, headers=auth).raise_for_status())
                            for _ in range(repeats)] for path, params in PAGE_REQUESTS}
        page = page_loads(base, repeats)
    finally:
        process.terminate()
        process.wait(30)
    return {"results": len(events) + repeats * 10_000, "load_s": load_s, "junit": junit, "calls": calls, "page": page,
            "report_kb": len(report) // 1024}


def page_loads(base: str, repeats: int) -> dict[str, list[float]]:
    """Seconds from navigating to /tests until its script finished, in real Chromium signed in as admin.
    Cold: each load starts in a new 5 s cache slot of the dashboard (the default refresh), so every
    request reaches the backend; warm: the same page again at once (answers from the dashboard's cache);
    reference: the Hardware page, what any page costs (Streamlit's bootstrap, its socket, the sidebar);
    switch: from the Hardware page to Tests through the sidebar, as a user moves between pages."""
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"cold": [], "warm": [], "reference": [], "switch": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(f"{base}/monitoring?autorefresh=off")
        page.get_by_role("textbox", name="Username").fill("admin")
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
        for _ in range(repeats + 1):  # the first load also warms the browser's asset cache: not counted
            time.sleep(5.05 - time.time() % 5)
            for kind, path, heading in (("cold", "tests", "Quarantined tests"), ("warm", "tests", "Quarantined tests"),
                                        ("reference", "hardware", "Hardware")):
                out[kind].append(_page_load(page, base, path, heading))
            out["switch"].append(_sidebar_switch(page, "tests", "Quarantined tests"))
        browser.close()
    return {kind: times[1:] for kind, times in out.items()}


# Checked on every animation frame in the page: Playwright's own waits poll at 0, 20, 70, 170, 270 ms
# and then every 500 ms, which rounds a page that is done at 400 ms up to about 870 ms.
_DONE = """heading => [...document.querySelectorAll('h1, h2, h3')].some(h => h.textContent.trim() === heading)
    && !!document.querySelector('[data-testid=stApp][data-test-connection-state=CONNECTED]'
                                + '[data-test-script-state=notRunning]')"""


def _page_load(page, base: str, path: str, heading: str) -> float:
    started = time.perf_counter()
    page.goto(f"{base}/{path}?autorefresh=off")
    page.wait_for_function(_DONE, arg=heading, polling="raf", timeout=60_000)
    return time.perf_counter() - started


def _sidebar_switch(page, path: str, heading: str) -> float:
    started = time.perf_counter()
    page.locator(f'[data-testid=stSidebarNav] a[href$="/{path}"]').click()
    page.wait_for_function(_DONE, arg=heading, polling="raf", timeout=60_000)
    return time.perf_counter() - started


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def machine_note(loads: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    start, end = (", ".join(f"{x:.2f}" for x in load) for load in loads)
    return f"alone under the machine lock; load average (1, 5, 15 min) {start} at the start and {end} at the end"


def accuracy_text(args, acc: list[dict], loads) -> str:
    total = {key: sum(row[key] for row in acc) for key in acc[0] if key not in ("methods", "oracle")}
    lines = [
        f"Run: `python bench/analytics.py --part accuracy --seeds {args.seeds}` ({machine_note(loads)}). "
        "SIMULATED data from bench/results_sim.py.", "",
        f"Accuracy over {args.seeds} seeds (each: 40 tests x 4 hardware x 30 runs, 16 workers, 20 benchmark "
        "series x 60 runs with 2-3 % noise, half with one step of 5-10 % after run 25):", "",
        "| what | result |", "|---|---|",
        f"| injected flaky test x hardware pairs found | {total['flaky_found']} of {total['flaky']} |",
        f"| pairs flagged flaky that were not injected | {total['flaky_false']} (stable tests flagged: {total['stable_flagged']}) |",
        f"| bad worker flagged | {total['bad_found']} of {args.seeds} seeds; good workers flagged: {total['good_flagged']} |",
        "", "Benchmark steps, per detector setting:", "",
        *step_accuracy.table(acc, total)]
    return "\n".join(lines)


def speed_text(args, fast: dict[str, object], loads) -> str:
    med = lambda xs: f"{statistics.median(xs) * 1000:.0f} ms"  # noqa: E731
    return "\n".join([
        f"Run: `python bench/analytics.py --part speed --results {args.results}` ({machine_note(loads)}), "
        f"against `streamlit run streamlit_app.py` (dashboard and API on one port, as deployed by default) "
        f"holding {fast['results']:,} test results (loaded through POST /api/ingest in {fast['load_s']:.0f} s). "
        f"Medians of {args.repeats}:", "",
        "| what | median | all |", "|---|---|---|",
        f"| POST /api/results/junit, 10,000 cases ({fast['report_kb']:,} KB) | {med(fast['junit'])} | {_all(fast['junit'])} |",
        *[f"| GET {path} | {med(times)} | {_all(times)} |" for path, times in fast["calls"].items()],
        f"| Tests page in Chromium, navigation until its script finished, cold (every request reaches the backend) "
        f"| {med(fast['page']['cold'])} | {_all(fast['page']['cold'])} |",
        f"| the same, warm (the dashboard's 5 s cache answers) | {med(fast['page']['warm'])} | {_all(fast['page']['warm'])} |",
        f"| for reference: the Hardware page, cold | {med(fast['page']['reference'])} | {_all(fast['page']['reference'])} |",
        f"| Hardware page to Tests page through the sidebar, until its script finished | {med(fast['page']['switch'])} "
        f"| {_all(fast['page']['switch'])} |",
        "", f"The Tests page's five requests take {med([sum(t) for t in zip(*fast['calls'].values())])} together "
        f"(medians above); the rest of a page load is Streamlit's: the app's HTML and scripts, its socket, the "
        f"router script (sign-in check, sidebar, alerts banner) and drawing, which the Hardware page pays too.",
    ])


def _all(times: list[float]) -> str:
    return ", ".join(f"{t * 1000:.0f}" for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["accuracy", "speed"], required=True)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    start = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        if args.part == "accuracy":
            acc = [accuracy(seed, folder) for seed in range(args.seeds)]
            section, text = "bench/analytics.py", accuracy_text(args, acc, (start, os.getloadavg()))
        else:
            fast = speed(args.results, args.repeats, folder)
            section, text = "bench/analytics.py — speed", speed_text(args, fast, (start, os.getloadavg()))
    print(text)
    if not args.no_write:
        write_section(section, text)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
