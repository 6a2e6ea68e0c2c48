"""The demo: a local Dask cluster wired to the backend, running the bundled suite in rounds until stopped.

Used by `python -m backend demo` and by the admin-only /api/demo routes. Each round runs
every test and benchmark of reporter/dtmon_reporter/demo_suite once (in pytest sessions of a
few tests each on one-thread workers), then pauses, so the cost stays a fraction of one core.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dtmon_reporter import run_tests

SUITE_DIR = Path(__file__).with_name("demo_suite")
# (file, task type, priority): benchmarks are the least urgent, as on a real fleet
GROUPS = (("suite_numbers.py", "test", 3), ("suite_text.py", "test", 2), ("suite_dates.py", "test", 1),
          ("suite_benchmarks.py", "benchmark", 0))
log = logging.getLogger("dtmon.demo")


class DemoRunner:
    """Start/stop handle for the demo; safe to call from any thread, one cluster at a time."""

    def __init__(self, url: str, token: str, workers: int = 3, pause_s: float = 15.0,
                 test_timeout_s: float = 30.0) -> None:
        self.url, self.token, self.workers = url, token, workers
        self.pause_s, self.test_timeout_s = pause_s, test_timeout_s
        self.started_at: float | None = None
        self.rounds = 0
        self.last_round: dict[str, int] = {}
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._session = ""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Starts the cluster in a background thread; False when it was already running."""
        with self._lock:
            if self.running:
                return False
            self._stop.clear()
            self.started_at, self.rounds, self.error, self.last_round = time.time(), 0, None, {}
            self._session = secrets.token_hex(2)
            self._thread = threading.Thread(target=self._main, name="dtmon-demo", daemon=True)
            self._thread.start()
            return True

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Cancels running tasks, closes the cluster (workers go offline); False if still stopping."""
        with self._lock:
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout_s)
            stopped = not self.running
            if stopped:
                self.started_at = None
            return stopped

    def wait(self, timeout_s: float | None = None) -> None:
        """Blocks until the demo ends (the CLI waits here for Ctrl-C)."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    def status(self) -> dict[str, Any]:
        """What GET /api/demo answers."""
        started = self.started_at if self.running else None
        return {"running": self.running, "workers": self.workers, "rounds": self.rounds,
                "started_at": _iso(started), "last_round": self.last_round, "error": self.error}

    def _main(self) -> None:
        try:
            self._run_cluster()
        except Exception as exc:  # the demo thread must report, not vanish silently
            log.exception("demo stopped by an error")
            self.error = f"{type(exc).__name__}: {exc}"

    def _run_cluster(self) -> None:
        from distributed import Client, LocalCluster

        from dtmon_reporter.dask_plugin import DtmonSchedulerPlugin

        with LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=False, dashboard_address=None,
                          preload=["dtmon_reporter.dask_worker"]) as cluster, Client(cluster) as client:
            plugin = DtmonSchedulerPlugin(self.url, self.token, worker_prefix="demo-worker-")
            client.register_plugin(plugin, name=DtmonSchedulerPlugin.name)
            groups = self._collect()
            while not self._stop.is_set():
                self.last_round = self._round(client, groups)
                self.rounds += 1
                self._stop.wait(self.pause_s)

    def _collect(self) -> list[tuple[run_tests.RunOptions, run_tests.Collection]]:
        """Node ids per group, collected once: the suite does not change while the demo runs."""
        groups = []
        for filename, task_type, priority in GROUPS:
            options = run_tests.RunOptions(paths=[filename], type=task_type, priority=priority,
                                           timeout_s=self.test_timeout_s, cwd=str(SUITE_DIR))
            groups.append((options, run_tests.collect(options)))
        return groups

    def _round(self, client: Any, groups: list) -> dict[str, int]:
        """Submits every group, then waits in short steps so stop() is honoured within a second."""
        round_id = f"demo-{self._session}-{self.rounds + 1}"
        futures: dict = {}
        for options, collection in groups:
            futures.update(run_tests.submit_chunks(client, collection, options, round_id))
        while not self._stop.is_set() and not all(f.done() for f in futures):
            self._stop.wait(0.5)
        client.cancel([f for f in futures if not f.done()])
        return _tally(outcome for future, chunk in futures.items()
                      for outcome in run_tests.chunk_outcomes(future, chunk))


TALLY = {"skipped": "passed", "timed_out": "failed", "error": "failed"}


def _tally(outcomes: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        status = TALLY.get(outcome.status, outcome.status)
        counts[status] = counts.get(status, 0) + 1
    return counts


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat().replace("+00:00", "Z")
