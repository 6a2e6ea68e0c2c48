"""Overhead of the dtmon scheduler plugin on the Dask scheduler (target: median ratio under 1.10).

Runs the same 10,000-task graph on one LocalCluster (scheduler in this process, workers in
their own processes) alternately without and with dtmon: DtmonSchedulerPlugin, which reports every
task to a real backend, and DtmonWorkerPlugin on the workers, which tells it when each task
starts executing (one Dask event per task) (`python -m backend serve` on a fresh database in a temporary
directory). Reports the median wall time of each and their ratio in docs/PERFORMANCE.md.

    python bench/dask_overhead.py [--tasks 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dask
import psutil
import distributed
from distributed import Client, LocalCluster

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dtmon_reporter.dask_plugin import DtmonSchedulerPlugin, _reports_executing  # noqa: E402
from dtmon_reporter.dask_worker import DtmonWorkerPlugin  # noqa: E402
from bench.ingest import start_server, tokens  # noqa: E402
from bench.report import write_section  # noqa: E402
from tests.support import free_port  # noqa: E402

SCRIPT = "bench/dask_overhead.py"


def run_on_idle_cpu(pid: int) -> None:
    """SCHED_IDLE for every thread of the backend (Linux priorities are per thread): it then runs on
    what Dask leaves idle, the closest one machine gets to a backend on another host."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setscheduler(int(task.name), os.SCHED_IDLE, os.sched_param(0))


def increment(x: int) -> int:
    return x + 1


class TimedPlugin(DtmonSchedulerPlugin):
    """The real plugin, plus a tally of the time the scheduler's event loop spends inside its hooks."""

    hook_seconds = 0.0  # class-level: the scheduler holds an unpickled copy in this same process

    def update_graph(self, *args, **kwargs):
        started = time.perf_counter()
        super().update_graph(*args, **kwargs)
        TimedPlugin.hook_seconds += time.perf_counter() - started

    def transition(self, *args, **kwargs):
        started = time.perf_counter()
        super().transition(*args, **kwargs)
        TimedPlugin.hook_seconds += time.perf_counter() - started

    def log_event(self, *args, **kwargs):
        started = time.perf_counter()
        super().log_event(*args, **kwargs)
        TimedPlugin.hook_seconds += time.perf_counter() - started


def run_graph(client: Client, tasks: int, label: str) -> tuple[float, float]:
    """Wall time and this process's CPU time (scheduler, client, plugin sender) for `tasks` fresh tasks."""
    keys = [f"increment-{label}-{i}" for i in range(tasks)]
    started, cpu_started = time.perf_counter(), time.process_time()
    futures = client.map(increment, range(tasks), key=keys)
    client.gather(futures)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    client.cancel(futures)
    return elapsed, cpu


def measure(client: Client, plugin: DtmonSchedulerPlugin, tasks: int, repeats: int,
            backend: psutil.Process) -> tuple[list, list, list, list]:
    """Interleaves plain and monitored runs so background load hits both alike."""
    plain, monitored, in_hooks, backend_cpu = [], [], [], []
    worker_plugin = DtmonWorkerPlugin(include_browser=False, advertise=False)
    run_graph(client, min(tasks, 1000), "warm-up")  # imports, worker connections, code caches
    for round_ in range(repeats):
        plain.append(run_graph(client, tasks, f"plain{round_}"))
        client.register_plugin(plugin, name=plugin.name)
        client.register_plugin(worker_plugin, name=worker_plugin.name)
        wait_until_workers_report_executing(client)
        TimedPlugin.hook_seconds, backend_started = 0.0, _cpu(backend)
        monitored.append(run_graph(client, tasks, f"monitored{round_}"))
        in_hooks.append(TimedPlugin.hook_seconds)
        backend_cpu.append(_cpu(backend) - backend_started)
        client.unregister_worker_plugin(worker_plugin.name)
        client.unregister_scheduler_plugin(plugin.name)  # closes it: queued events are delivered first
        print(f"round {round_ + 1}: plain {plain[-1][0]:.2f} s (cpu {plain[-1][1]:.2f} s), monitored "
              f"{monitored[-1][0]:.2f} s (cpu {monitored[-1][1]:.2f} s, {in_hooks[-1]:.3f} s in hooks, "
              f"backend cpu {backend_cpu[-1]:.2f} s)", flush=True)
    return plain, monitored, in_hooks, backend_cpu


def wait_until_workers_report_executing(client: Client) -> None:
    """The scheduler plugin leaves `started` to workers it has seen the dtmon metrics of (next heartbeat)."""
    deadline = time.monotonic() + 30
    while not client.run_on_scheduler(_all_report_executing) and time.monotonic() < deadline:
        time.sleep(0.1)


def _all_report_executing(dask_scheduler: Any) -> bool:
    return all(_reports_executing(ws) for ws in dask_scheduler.workers.values())


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def delivered(base: str, admin_token: str, expected: int) -> int:
    """Task events the backend committed, read back through the admin SQL endpoint.

    Polled for up to a minute: acknowledged events were seen to reach /api/sql a moment later.
    """
    import httpx

    count, deadline = 0, time.monotonic() + 60
    while count < expected and time.monotonic() < deadline:
        response = httpx.post(f"{base}/api/sql", json={"sql": "SELECT count(*) FROM task_events"},
                              headers={"Authorization": f"Bearer {admin_token}"}, timeout=60)
        count = int(response.json()["rows"][0][0])
        time.sleep(0.5)
    return count


def report(tasks: int, repeats: int, plain: list, monitored: list, in_hooks: list[float], events: int,
           backend_cpu: list[float], load_at_start: float) -> str:
    wall = [statistics.median(t[0] for t in runs) for runs in (plain, monitored)]
    cpu = [statistics.median(t[1] for t in runs) for runs in (plain, monitored)]
    ratio, cpu_ratio, hooks = wall[1] / wall[0], cpu[1] / cpu[0], statistics.median(in_hooks)
    return f"""Run `{SCRIPT} --tasks {tasks} --repeats {repeats}` on {platform.machine()}, {os.cpu_count()} cores,
Python {platform.python_version()}, Dask distributed {distributed.__version__}: a LocalCluster with 2 worker
processes (1 thread each), the scheduler in the bench process; `client.map` of {tasks:,} independent tasks
with fresh keys, gathered. Plain and monitored runs alternate; in the monitored runs the workers'
DtmonWorkerPlugin logs one `executing` Dask event per task and the scheduler plugin reports every task
(submitted, started when executing, finished) plus worker heartbeats to `python -m backend serve` on the same machine,
every thread of it under SCHED_IDLE so that it runs on the CPU Dask leaves idle, as a backend on another
host would; its CPU time is reported below (load average {load_at_start:.1f} at the start and
{os.getloadavg()[0]:.1f} at the end, the bench's own processes included). The CPU time of the bench process (scheduler, client and the
plugin's sender thread) is the steadier measure.

| run | median wall time | median CPU time | runs: wall / CPU (s) |
|---|---|---|---|
| without plugin | {wall[0]:.2f} s | {cpu[0]:.2f} s | {_runs(plain)} |
| with dtmon (scheduler and worker plugins) | {wall[1]:.2f} s | {cpu[1]:.2f} s | {_runs(monitored)} |

Median wall time ratio with/without: **{ratio:.3f}** (target under 1.10 → {"met" if ratio < 1.10 else "NOT met"});
CPU time ratio: **{cpu_ratio:.3f}**. The scheduler's event loop spent a median {hooks:.3f} s inside the plugin's hooks
(graph, transitions and the `executing` events)
per monitored run ({1e6 * hooks / tasks:.1f} µs per task); the backend process used a median
{statistics.median(backend_cpu):.2f} s of CPU during a monitored run. The backend committed {events:,} task events from the
monitored runs (3 per task expected: {3 * tasks * repeats:,})."""


def _runs(runs: list) -> str:
    return ", ".join(f"{wall:.1f} / {cpu:.1f}" for wall, cpu in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load_at_start, port = os.getloadavg()[0], free_port()
    with tempfile.TemporaryDirectory(prefix="dtmon-bench-") as workdir:
        server = start_server(str(Path(workdir) / "bench.duckdb"), port)
        try:
            base = f"http://127.0.0.1:{port}"
            token, admin = tokens(base)
            run_on_idle_cpu(server.pid)
            plugin = TimedPlugin(base, token)
            with dask.config.set({"distributed.logging.distributed": "error"}), \
                    LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
                    Client(cluster) as client:
                plain, monitored, in_hooks, backend_cpu = measure(client, plugin, args.tasks, args.repeats,
                                                                  psutil.Process(server.pid))
            events = delivered(base, admin, 3 * args.tasks * args.repeats)
            body = report(args.tasks, args.repeats, plain, monitored, in_hooks, events, backend_cpu, load_at_start)
        finally:
            server.terminate()
            server.wait(30)
    write_section(SCRIPT, body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
