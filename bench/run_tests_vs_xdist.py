"""`run-tests` on a real third-party suite, side by side with `pytest -n N` (target: within 1.5x of xdist).

Downloads more-itertools' sdist from the package registry into a temporary directory (its
tests/ hold several hundred tests no one here wrote), installs pytest-xdist there too (never
into the project's environment), then alternates: `pytest -n N` in the suite directory, and
run-tests on a LocalCluster of N one-thread worker processes with the dtmon preload, reporting
every test to a real backend (`python -m backend serve`, fresh database, on otherwise idle
CPU as a backend on another host would be), whose task list is sampled while each run goes on.
Writes medians, per-round ratios and the load average to docs/PERFORMANCE.md.

    python bench/run_tests_vs_xdist.py [--workers 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import httpx
from distributed import Client, LocalCluster

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.dask_overhead import run_on_idle_cpu  # noqa: E402
from bench.ingest import start_server, tokens  # noqa: E402
from bench.report import write_section  # noqa: E402
from dtmon_reporter import run_tests  # noqa: E402
from dtmon_reporter.dask_plugin import DtmonSchedulerPlugin  # noqa: E402
from tests.support import free_port  # noqa: E402

SCRIPT = "bench/run_tests_vs_xdist.py"
SUITE, XDIST = "more-itertools==10.8.0", ("pytest-xdist==3.8.0", "execnet==2.1.2")
TALLY = re.compile(r"(\d+) (passed|failed|skipped|error|errors|xfailed|xpassed)")


def fetch(workdir: Path) -> tuple[Path, Path]:
    """The suite's source tree and a directory holding pytest-xdist, both from the registry."""
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "download", "--no-deps", "--no-binary", ":all:", SUITE, "-d", str(workdir)], check=True)
    with tarfile.open(next(workdir.glob("more_itertools-*.tar.gz"))) as archive:
        archive.extractall(workdir, filter="data")
    xdist = workdir / "xdist"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(xdist), *XDIST], check=True)
    return next(path for path in workdir.glob("more_itertools-*") if path.is_dir()), xdist


def run_xdist(suite: Path, xdist: Path, workers: int) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", str(workers), "-q", "-p", "no:cacheprovider",
                           "-p", "no:faker", "tests"], cwd=suite, capture_output=True, text=True,
                          env=os.environ | {"PYTHONPATH": str(xdist)}, check=False)
    seconds = time.perf_counter() - started
    return seconds, tally(done.stdout.strip().splitlines()[-1])


def tally(line: str) -> str:
    counts = {kind.rstrip("s") if kind == "errors" else kind: int(n) for n, kind in TALLY.findall(line)}
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


def run_dtmon(client: Client, suite: Path, base: str, admin: str) -> tuple[float, str, int]:
    """Wall time, tally, and how many of the run's tests the dashboard showed finished before it ended."""
    options = run_tests.RunOptions(paths=["tests"], cwd=str(suite), pytest_args=["-p", "no:faker"], timeout_s=120)
    run_id, done, seen = run_tests.new_run_id(), threading.Event(), [0]
    watch = threading.Thread(target=watch_dashboard, args=(base, admin, run_id, done, seen), daemon=True)
    watch.start()
    started = time.perf_counter()
    summary = run_tests.run(client, options, run_id=run_id)
    seconds = time.perf_counter() - started
    done.set()
    watch.join()
    counts = {status: summary.count(status) for status in run_tests.STATUSES if summary.count(status)}
    return seconds, ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())), seen[0]


def watch_dashboard(base: str, admin: str, search: str, done: threading.Event, seen: list[int]) -> None:
    """Every 2 s while the run goes on: its tests the dashboard already shows finished (answers after the end
    do not count)."""
    while not done.wait(2):
        count = dashboard_tasks(base, admin, search)
        if not done.is_set():
            seen[0] = count


def dashboard_tasks(base: str, admin: str, search: str = "") -> int:
    """Tests the dashboard shows as finished: each test is its own task there."""
    headers = {"Authorization": f"Bearer {admin}"}
    total = 0
    for status in ("completed", "failed"):
        response = httpx.get(f"{base}/api/monitoring/tasks", params={"status": status, "limit": 1, "search": search},
                             headers=headers)
        total += int(response.headers["x-total-count"])
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    load_at_start, port = os.getloadavg()[0], free_port()
    with tempfile.TemporaryDirectory(prefix="dtmon-bench-") as scratch:
        suite, xdist = fetch(Path(scratch))
        server = start_server(str(Path(scratch) / "bench.duckdb"), port)
        try:
            base = f"http://127.0.0.1:{port}"
            token, admin = tokens(base)
            run_on_idle_cpu(server.pid)
            with LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None,
                              preload=["dtmon_reporter.dask_worker"], preload_argv=["--no-dtmon-browser-probe"]) \
                    as cluster, Client(cluster) as client:
                client.register_plugin(DtmonSchedulerPlugin(base, token), name=DtmonSchedulerPlugin.name)
                xdist_runs, dtmon_runs = [], []
                for _ in range(args.repeats):
                    xdist_runs.append(run_xdist(suite, xdist, args.workers))
                    dtmon_runs.append(run_dtmon(client, suite, base, admin))
                    print(f"xdist {xdist_runs[-1]}  run-tests {dtmon_runs[-1]}", flush=True)
            time.sleep(3)  # the plugin sends once a second; let the last results land
            shown = dashboard_tasks(base, admin)
        finally:
            server.terminate()
            server.wait(30)
    body = report(args, suite.name, xdist_runs, dtmon_runs, shown, (load_at_start, os.getloadavg()[0]))
    write_section(SCRIPT, body)
    print(body)
    return 0


def report(args: argparse.Namespace, suite: str, xdist_runs: list, dtmon_runs: list, shown: int,
           load: tuple[float, float]) -> str:
    xdist_median = statistics.median(run[0] for run in xdist_runs)
    dtmon_median = statistics.median(run[0] for run in dtmon_runs)
    ratio = dtmon_median / xdist_median
    verdict = "met" if ratio <= 1.5 else "NOT met"
    same = all(x[1] == d[1] for x, d in zip(xdist_runs, dtmon_runs))
    return f"""Run `{SCRIPT} --workers {args.workers} --repeats {args.repeats}` on {platform.machine()},
{os.cpu_count()} cores, Python {platform.python_version()}: the tests of {suite} (sdist from the
package registry), alternately with `pytest -n {args.workers}` (pytest-xdist 3.8.0) and with
`run-tests` on a LocalCluster of {args.workers} one-thread worker processes (dtmon preload and scheduler
plugin, reporting every test to `python -m backend serve` under SCHED_IDLE; one kept pytest session per
worker). Wall time from start to summary, collection included; the cluster is started once, as a
fleet's is. Load average (1 min) {load[0]:.1f} at the start and {load[1]:.1f} at the end on {os.cpu_count()} cores
(the bench's own processes count in it; well above the core count means the machine was shared
with other work, which slows both sides unevenly).

| run | median wall time | runs (s) | outcomes |
|---|---|---|---|
| `pytest -n {args.workers}` | {xdist_median:.1f} s | {", ".join(f"{run[0]:.1f}" for run in xdist_runs)} | {xdist_runs[-1][1]} |
| `run-tests` | {dtmon_median:.1f} s | {", ".join(f"{run[0]:.1f}" for run in dtmon_runs)} | {dtmon_runs[-1][1]} |

Ratio of the medians run-tests / xdist: **{ratio:.2f}** (target within 1.5 → {verdict}); per round:
{", ".join(f"{d[0] / x[0]:.2f}" for x, d in zip(xdist_runs, dtmon_runs))}. Outcomes the same on both sides in every
round: {"yes" if same else "NO"}. While each run-tests round went on, the dashboard's task list (sampled
every 2 s) already showed {", ".join(str(run[2]) for run in dtmon_runs)} of its tests finished; afterwards it
showed {shown:,} finished test tasks ({args.repeats} runs, one task per test and run).
"""


if __name__ == "__main__":
    sys.exit(main())
