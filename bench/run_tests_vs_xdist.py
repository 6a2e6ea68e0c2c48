"""`run-tests` on a real third-party suite, side by side with `pytest -n N` (target: within 1.5x of xdist).

Downloads more-itertools' sdist from the package registry into a temporary directory (its
tests/ hold several hundred tests no one here wrote), installs pytest-xdist there too (never
into the project's environment), then alternates: `pytest -n N` in the suite directory, and
run-tests on a LocalCluster of N one-thread worker processes with the dtmon preload, reporting
every test to a real backend (`python -m backend serve`, fresh database, on otherwise idle
CPU as a backend on another host would be). Writes medians and the ratio to docs/PERFORMANCE.md.

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


def run_dtmon(client: Client, suite: Path) -> tuple[float, str]:
    options = run_tests.RunOptions(paths=["tests"], cwd=str(suite), pytest_args=["-p", "no:faker"], timeout_s=120)
    started = time.perf_counter()
    summary = run_tests.run(client, options)
    seconds = time.perf_counter() - started
    counts = {status: summary.count(status) for status in run_tests.STATUSES if summary.count(status)}
    return seconds, ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


def dashboard_tasks(base: str, admin: str) -> int:
    """Tests the dashboard shows as finished: each test is its own task there."""
    headers = {"Authorization": f"Bearer {admin}"}
    total = 0
    for status in ("completed", "failed"):
        response = httpx.get(f"{base}/api/monitoring/tasks", params={"status": status, "limit": 1}, headers=headers)
        total += int(response.headers["x-total-count"])
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    port = free_port()
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
                    dtmon_runs.append(run_dtmon(client, suite))
                    print(f"xdist {xdist_runs[-1]}  run-tests {dtmon_runs[-1]}", flush=True)
            time.sleep(3)  # the plugin sends once a second; let the last results land
            shown = dashboard_tasks(base, admin)
        finally:
            server.terminate()
            server.wait(30)
    body = report(args, suite.name, xdist_runs, dtmon_runs, shown)
    write_section(SCRIPT, body)
    print(body)
    return 0


def report(args: argparse.Namespace, suite: str, xdist_runs: list, dtmon_runs: list, shown: int) -> str:
    xdist_median = statistics.median(seconds for seconds, _ in xdist_runs)
    dtmon_median = statistics.median(seconds for seconds, _ in dtmon_runs)
    ratio = dtmon_median / xdist_median
    verdict = "met" if ratio <= 1.5 else "NOT met"
    return f"""Run `{SCRIPT} --workers {args.workers} --repeats {args.repeats}` on {platform.machine()},
{os.cpu_count()} cores, Python {platform.python_version()}: the tests of {suite} (sdist from the
package registry), alternately with `pytest -n {args.workers}` (pytest-xdist 3.8.0) and with
`run-tests` on a LocalCluster of {args.workers} one-thread worker processes (dtmon preload and scheduler
plugin, reporting every test to `python -m backend serve` under SCHED_IDLE). Wall time from start to
summary, collection included; the cluster is started once, as a fleet's is. Load average at the
end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (above the core count means the machine was shared
with other work, which slows both sides unevenly; compare the ratio, not the seconds).

| run | median wall time | runs (s) | outcomes |
|---|---|---|---|
| `pytest -n {args.workers}` | {xdist_median:.1f} s | {", ".join(f"{s:.1f}" for s, _ in xdist_runs)} | {xdist_runs[-1][1]} |
| `run-tests` (chunks) | {dtmon_median:.1f} s | {", ".join(f"{s:.1f}" for s, _ in dtmon_runs)} | {dtmon_runs[-1][1]} |

Ratio of the medians run-tests / xdist: **{ratio:.2f}** (target within 1.5 → {verdict}); per round:
{", ".join(f"{d / x:.2f}" for (x, _), (d, _) in zip(xdist_runs, dtmon_runs))}. The dashboard showed
{shown:,} finished test tasks afterwards ({args.repeats} runs, one task per test and run).
"""


if __name__ == "__main__":
    sys.exit(main())
