"""What a Dask worker runs for a chunk of pytest node ids: a batch fed to a pytest session, watched test by test.

A session (one pytest process, dtmon_reporter.pytest_plugin) collects the run's files once and
then runs the chunks fed to it, so a worker pays pytest's start-up once per run, as an xdist
worker does; between chunks it waits in this worker's pool. It streams each test's start and
result; a test that overruns its time limit, or kills the interpreter, ends only itself: the
session is stopped, that test is reported timed_out or failed, and the rest of the chunk runs
in a new session. Each start and result is also logged to the Dask scheduler, where the dtmon
plugin turns it into the test's own task events while the chunk is still running.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dtmon_reporter.client import clip_error
from dtmon_reporter.processes import kill_group

PYTEST_FLAGS = ("-q", "-p", "no:cacheprovider", "--tb=short", "--color=no", "-p", "dtmon_reporter.pytest_plugin")
OUT_VAR, FEED_VAR = "DTMON_PYTEST_OUT", "DTMON_PYTEST_FEED"  # read by dtmon_reporter.pytest_plugin
TOPIC = "dtmon"  # Dask event topic the scheduler plugin listens to
POLL_S = 0.01
STARTUP_GRACE_S = 60.0  # a session may import and collect for a while before its first test starts
Report = Callable[[dict[str, Any]], None]


def pytest_command(args: list[str], extra_args: list[str]) -> list[str]:
    """The worker's own interpreter, so the suite sees the worker's installed packages."""
    return [sys.executable, "-m", "pytest", *args, *PYTEST_FLAGS, *extra_args]


def files_of(node_ids: list[str]) -> list[str]:
    """The files to collect, in first-seen order; the session then runs the exact ids fed to it."""
    return list(dict.fromkeys(node_id.split("::", 1)[0] for node_id in node_ids))


class Session:
    """One pytest process that collected some files and runs the batches of node ids sent to it."""

    def __init__(self, rootdir: str, files: list[str], extra_args: list[str]) -> None:
        self.scratch = tempfile.TemporaryDirectory(prefix="dtmon-session-")
        out, self.log = Path(self.scratch.name) / "out", Path(self.scratch.name) / "log"
        out.touch()
        feed_read, self.feed = os.pipe()
        env = {**os.environ, OUT_VAR: str(out), FEED_VAR: str(feed_read),
               "PYTHONUNBUFFERED": "1"}  # what a crashing test printed last is the clue
        try:
            with open(self.log, "wb") as log_file:
                self.process = subprocess.Popen(pytest_command(files, extra_args), cwd=rootdir, env=env,
                                                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                                                pass_fds=(feed_read,))
        except OSError:  # e.g. no such rootdir on this host: the chunk fails, the worker keeps no leftovers
            os.close(self.feed)
            self.scratch.cleanup()
            raise
        finally:
            os.close(feed_read)
        self.stream = open(out, encoding="utf-8")  # noqa: SIM115 - read as the session writes
        self.batches, self._partial = 0, ""

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, node_ids: list[str]) -> None:
        """The batch goes in a file and its path down the pipe: a short line never blocks on a busy session."""
        path = Path(self.scratch.name) / f"batch-{self.batches}.json"
        path.write_text(json.dumps(node_ids), encoding="utf-8")
        self.batches += 1
        try:
            os.write(self.feed, f"{path}\n".encode())
        except OSError:  # the session already ended; the batch sees it exit
            pass

    def facts(self) -> list[dict[str, Any]]:
        """Facts completely written since the last call."""
        *lines, self._partial = (self._partial + self.stream.read()).split("\n")
        return [json.loads(line) for line in lines]

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def kill(self) -> None:
        """The whole process group: a hung test's own children must not outlive it."""
        kill_group(self.process)
        self.process.wait()

    def close(self) -> None:
        """Closing the pipe lets pytest finish its session; one that does not is killed."""
        os.close(self.feed)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
        self.stream.close()
        self.scratch.cleanup()


@dataclass
class Batch:
    """Some node ids run in one session, followed through its result stream."""

    node_ids: list[str]
    timeout_s: float
    report: Report
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: tuple[str, float] | None = None
    interrupted: bool = False  # the session was killed or died inside a test
    done: bool = False  # the session got through the batch (ids it did not know are not in results)

    def run(self, session: Session) -> None:
        """Reads facts as they are written; kills the session when the running test overruns."""
        session.send(self.node_ids)
        quiet_since = time.monotonic()
        while not self.done:
            exited = not session.alive
            for fact in session.facts():
                self._fact(fact)
                quiet_since = time.monotonic()
            if exited:
                self._after_exit(session)
                return
            if not self.done and self._overran(quiet_since):
                session.kill()
                self.interrupted = True
                return
            time.sleep(POLL_S)

    def worth_retrying(self, reused: bool) -> bool:
        """Another session gets further when this one was stopped past a test, or was a kept one that had
        ended on its own; otherwise what is left is unknown to pytest or stops any session."""
        if self.done:
            return False
        return bool(self.results) and self.interrupted or reused and not self.results

    def _overran(self, quiet_since: float) -> bool:
        """True when the running test, or the quiet time before one starts, took longer than allowed."""
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
        elif "idle" in fact:
            self.done = True

    def _finish(self, node_id: str, outcome: str, seconds: float, error: str) -> None:
        if node_id in self.results:
            return
        self.results[node_id] = {"node_id": node_id, "outcome": outcome, "seconds": round(seconds, 6),
                                 "error": clip_error(error)}  # the scheduler keeps recent events in memory
        self.current = None
        self.report({"op": "test-finished", **self.results[node_id]})

    def _after_exit(self, session: Session) -> None:
        """A session that died inside a test fails that test, with what pytest printed last."""
        if self.current is not None:
            self._finish(self.current[0], "failed", time.monotonic() - self.current[1],
                         f"the pytest process died (exit code {session.process.returncode}) while running this "
                         f"test:\n{session.output()}")
            self.interrupted = True


class Pool:
    """This worker process's idle sessions, by run and suite; a session serves one chunk at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: dict[tuple, list[Session]] = {}

    def take(self, key: tuple, rootdir: str, files: list[str], extra_args: list[str]) -> Session:
        """A live idle session of this run (ended ones are closed on the way), else a new one."""
        with self.lock:
            ended = [s for sessions in self.idle.values() for s in sessions if not s.alive]
            for sessions in self.idle.values():
                sessions[:] = [s for s in sessions if s not in ended]
            session = self.idle[key].pop() if self.idle.get(key) else None
        for stale in ended:
            stale.close()
        return session or Session(rootdir, files, extra_args)

    def give_back(self, key: tuple, session: Session) -> None:
        if not session.alive:
            session.close()
            return
        with self.lock:
            self.idle.setdefault(key, []).append(session)

    def close_run(self, run_id: str) -> int:
        with self.lock:
            ended = [s for key in [k for k in self.idle if k[0] == run_id] for s in self.idle.pop(key)]
        for session in ended:
            session.close()
        return len(ended)


POOL = Pool()


async def close_sessions(run_id: str) -> int:
    """Ends this worker's kept sessions of a run; run-tests calls it on every worker when the run is over."""
    return await asyncio.to_thread(POOL.close_run, run_id)  # off the worker's event loop: pytest may take a while


def run_chunk(node_ids: list[str], rootdir: str, timeout_s: float, extra_args: list[str], run_id: str = "",
              report: Report | None = None, suite_files: list[str] | None = None) -> list[dict[str, Any]]:
    """Results for every node id, in order; sessions are restarted past a test that hung or crashed.
    With suite_files, the session collects those and stays for the run's next chunk on this worker;
    without, it collects just this chunk's files and ends with it."""
    report = report or _dask_reporter(run_id)
    key = (run_id, rootdir, tuple(suite_files or ()), tuple(extra_args))
    results: dict[str, dict[str, Any]] = {}
    remaining, output = list(node_ids), ""
    while remaining:
        session = POOL.take(key, rootdir, suite_files, extra_args) if suite_files \
            else Session(rootdir, files_of(remaining), extra_args)
        reused, batch = session.batches > 0, Batch(remaining, timeout_s, report)
        batch.run(session)
        output = session.output()
        if suite_files:
            POOL.give_back(key, session)
        else:
            session.close()
        results.update(batch.results)
        remaining = [node_id for node_id in remaining if node_id not in results]
        if not batch.worth_retrying(reused):
            break
    for node_id in remaining:
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
