"""What a Dask worker runs for a chunk of pytest node ids: one pytest session, watched test by test.

The session streams each test's start and result (dtmon_reporter.pytest_plugin); a test that
overruns its time limit, or kills the interpreter, ends only itself: the session is stopped,
that test is reported timed_out or failed, and the rest of the chunk runs in a new session.
Each start and result is also logged to the Dask scheduler, where the dtmon plugin turns it
into the test's own task events while the chunk is still running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dtmon_reporter.client import clip_error

PYTEST_FLAGS = ("-q", "-p", "no:cacheprovider", "--tb=short", "--color=no", "-p", "dtmon_reporter.pytest_plugin")
TOPIC = "dtmon"  # Dask event topic the scheduler plugin listens to
POLL_S = 0.05
STARTUP_GRACE_S = 60.0  # a session may import and collect for a while before its first test starts
Report = Callable[[dict[str, Any]], None]


def pytest_command(args: list[str], extra_args: list[str]) -> list[str]:
    """The worker's own interpreter, so the suite sees the worker's installed packages."""
    return [sys.executable, "-m", "pytest", *args, *PYTEST_FLAGS, *extra_args]


def files_of(node_ids: list[str]) -> list[str]:
    """The files to collect, in first-seen order; the plugin then selects the exact ids."""
    return list(dict.fromkeys(node_id.split("::", 1)[0] for node_id in node_ids))


@dataclass
class Session:
    """One pytest process over some node ids, followed through its result stream."""

    node_ids: list[str]
    rootdir: str
    timeout_s: float
    extra_args: list[str]
    report: Report
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: tuple[str, float] | None = None
    interrupted: bool = False
    output: str = ""  # what pytest printed, for tests it never reached
    _partial: str = ""  # a fact line not yet completely written

    def run(self) -> None:
        with tempfile.TemporaryDirectory(prefix="dtmon-chunk-") as scratch:
            select, out, log = (Path(scratch) / name for name in ("select", "out", "log"))
            select.write_text("\n".join(self.node_ids) + "\n", encoding="utf-8")
            out.touch()
            env = {**os.environ, "DTMON_PYTEST_SELECT": str(select), "DTMON_PYTEST_OUT": str(out),
                   "PYTHONUNBUFFERED": "1"}  # what a crashing test printed last is the clue
            with open(log, "wb") as log_file, open(out, encoding="utf-8") as stream:
                process = subprocess.Popen(pytest_command(files_of(self.node_ids), self.extra_args),
                                           cwd=self.rootdir, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                           start_new_session=True)
                self._follow(process, stream)
            self._after_exit(process.returncode, log.read_text(encoding="utf-8", errors="replace"))

    def _follow(self, process: subprocess.Popen, stream: Any) -> None:
        """Reads facts as they are written; kills the session when the running test overruns."""
        quiet_since = time.monotonic()
        while True:
            exited = process.poll() is not None
            *lines, self._partial = (self._partial + stream.read()).split("\n")
            for line in lines:
                self._fact(json.loads(line))
                quiet_since = time.monotonic()
            if exited:
                return
            if self._overran(quiet_since):
                _kill(process)
                self.interrupted = True
            time.sleep(POLL_S)

    def _overran(self, quiet_since: float) -> bool:
        """True when the running test, or the quiet time before one starts, took longer than allowed."""
        if self.interrupted:
            return False
        limit = self.timeout_s if self.current else self.timeout_s + STARTUP_GRACE_S
        started = self.current[1] if self.current else quiet_since
        if time.monotonic() - started <= limit:
            return False
        if self.current:
            self._finish(self.current[0], "timed_out", self.timeout_s,
                         f"{self.current[0]} did not finish within {self.timeout_s:g} s and was killed")
        return True

    def _fact(self, fact: dict[str, Any]) -> None:
        if "started" in fact:
            self.current = (fact["started"], time.monotonic())
            self.report({"op": "test-started", "node_id": fact["started"], "at": fact["at"]})
        elif "finished" in fact:
            self._finish(fact["finished"], fact["outcome"], fact["seconds"], fact["error"])

    def _finish(self, node_id: str, outcome: str, seconds: float, error: str) -> None:
        if node_id in self.results:
            return
        self.results[node_id] = {"node_id": node_id, "outcome": outcome, "seconds": round(seconds, 6),
                                 "error": clip_error(error)}  # the scheduler keeps recent events in memory
        self.current = None
        self.report({"op": "test-finished", **self.results[node_id]})

    def _after_exit(self, code: int, output: str) -> None:
        """A session that died inside a test fails that test, with what pytest printed last."""
        if self.current is not None:
            self._finish(self.current[0], "failed", time.monotonic() - self.current[1],
                         f"the pytest process died (exit code {code}) while running this test:\n{output[-4000:]}")
            self.interrupted = True
        self.output = output


def _kill(process: subprocess.Popen) -> None:
    """The whole process group: a hung test's own children must not outlive it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def run_chunk(node_ids: list[str], rootdir: str, timeout_s: float, extra_args: list[str], run_id: str = "",
              report: Report | None = None) -> list[dict[str, Any]]:
    """Results for every node id, in order; sessions are restarted past a test that hung or crashed."""
    report = report or _dask_reporter(run_id)
    results: dict[str, dict[str, Any]] = {}
    remaining, output = list(node_ids), ""
    while remaining:
        session = Session(remaining, rootdir, timeout_s, extra_args, report)
        session.run()
        results.update(session.results)
        output = session.output
        remaining = [node_id for node_id in remaining if node_id not in results]
        if not (session.interrupted and session.results):  # no progress: a retry would hang or crash again
            break
    for node_id in remaining:  # the session ended without running them: nothing to retry
        results[node_id] = _not_run(node_id, rootdir, output)
        report({"op": "test-finished", **results[node_id]})
    return [results[node_id] for node_id in node_ids]


def _not_run(node_id: str, rootdir: str, output: str) -> dict[str, Any]:
    return {"node_id": node_id, "outcome": "error", "seconds": 0.0,
            "error": f"pytest ran no test {node_id} in {rootdir} on this worker:\n{output.strip()[-4000:]}"}


def task_id(node_id: str, run_id: str) -> str:
    """One dashboard task per test and run."""
    return f"{node_id}@{run_id}"


def _dask_reporter(run_id: str) -> Report:
    """Inside a Dask task, each fact goes to the scheduler (the dtmon plugin reads it); elsewhere nowhere."""
    try:
        from distributed import get_worker
        worker = get_worker()
    except (ImportError, ValueError):
        return lambda fact: None
    return lambda fact: worker.log_event(TOPIC, {**fact, "task_id": task_id(fact["node_id"], run_id)})
