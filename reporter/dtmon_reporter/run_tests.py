"""Distributed pytest runs: collect node ids, run them in chunks on Dask workers, summarise per test.

A chunk is one Dask task, fed to a pytest session that the worker keeps for the run's next
chunks (pytest_task.run_chunk), so start-up is paid once per worker and run, as with xdist,
while every test keeps its own result and dashboard task. Chunks shrink as the run nears its
end (guided scheduling), so no worker idles on a long tail.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import dask
from distributed import Client, Future, as_completed

from dtmon_reporter.pytest_task import OUT_VAR, TOPIC, close_sessions, files_of, pytest_command, run_chunk, task_id
from dtmon_reporter.run_results import ran_on

MAX_CHUNK = 250


class CollectionError(Exception):
    """pytest could not collect the given paths; carries its output for the user."""


@dataclass(frozen=True)
class RunOptions:
    """One invocation of run-tests (or one demo round)."""

    paths: list[str]
    hardware: list[str] = field(default_factory=list)
    priority: int = 0
    type: str = "test"
    timeout_s: float = 300.0
    pytest_args: list[str] = field(default_factory=list)
    cwd: str = field(default_factory=os.getcwd)
    chunk_size: int | None = None  # tests per Dask task; None: sized from the number of tests and worker threads
    isolate: bool = False  # a fresh interpreter for every test instead of one kept session per worker
    reruns: int = 0  # run what failed or timed out again, up to this many times
    workers: list[str] | None = None  # worker addresses allowed to run tests (None: any)
    quarantined: Callable[[str], bool] = lambda node_id: False  # failures forgiven in the exit code


@dataclass
class Collection:
    """What pytest found: node ids relative to its rootdir, where the workers run them."""

    rootdir: str
    node_ids: list[str]
    errors: list[tuple[str, str]]  # (path, pytest's error text) of what could not be collected


@dataclass
class Outcome:
    """The result of one node id as the run-tests summary shows it."""

    node_id: str
    status: str  # passed, failed, timed_out, skipped, error, canceled
    error: str = ""
    seconds: float = 0.0
    attempt: int = 1
    worker: str | None = None  # dashboard id of the worker that ran it
    quarantined: bool = False


STATUSES = ("passed", "failed", "timed_out", "skipped", "error", "canceled")
FAILED = ("failed", "timed_out", "error", "canceled")


@dataclass
class RunSummary:
    """Tallies and failures of a run; `exit_code` is what the CLI returns."""

    run_id: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in FAILED and not o.quarantined]

    @property
    def exit_code(self) -> int:
        """2 when something could not be collected or run (not a test failure), 1 on failures, else 0."""
        if self.count("error"):
            return 2
        return 1 if self.failures else 0

    def text(self) -> str:
        """Human summary: one line per failure, quarantined failure and pass on rerun, then the tally."""
        lines = [f"{'ERROR' if o.status == 'error' else 'FAILED'} {o.node_id} [{o.status}]: {_first_line(o.error)}"
                 for o in self.failures]
        lines += [f"QUARANTINED {o.node_id} [{o.status}] (does not fail the run): {_first_line(o.error)}"
                  for o in self.outcomes if o.status in FAILED and o.quarantined]
        lines += [f"FLAKY {o.node_id}: passed on attempt {o.attempt}" for o in self.outcomes
                  if o.status == "passed" and o.attempt > 1]
        tally = ", ".join(f"{self.count(s)} {s.replace('_', ' ')}" for s in STATUSES if self.count(s))
        lines.append(f"run {self.run_id}: {tally or 'nothing ran'} in {self.seconds:.1f} s")
        return "\n".join(lines)


def _first_line(text: str) -> str:
    assertion = next((line for line in text.splitlines() if line.startswith("E ")), None)
    return (assertion or text.strip().splitlines()[0] if text.strip() else "").strip()[:200]


def collect(options: RunOptions) -> Collection:
    """Asks pytest itself (in a subprocess, so the suite is not imported here) for ids, rootdir and errors."""
    with tempfile.TemporaryDirectory(prefix="dtmon-collect-") as scratch:
        out = Path(scratch) / "out"
        command = pytest_command(list(options.paths), ["--collect-only", *options.pytest_args])
        done = subprocess.run(command, cwd=options.cwd, capture_output=True, text=True, timeout=600, check=False,
                              env={**os.environ, OUT_VAR: str(out)})
        facts = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    found = next((fact for fact in facts if "rootdir" in fact), None)
    errors = [(fact["uncollectable"], fact["error"]) for fact in facts if "uncollectable" in fact]
    if found is None or not (found["collected"] or errors):
        raise CollectionError((done.stdout + done.stderr).strip() or "pytest collected no tests")
    return Collection(found["rootdir"], found["collected"], errors)


def missing_hardware(client: Client, hardware: list[str]) -> list[str]:
    """Hardware no connected worker offers as a Dask resource; such tasks would wait forever."""
    wanted = [name for name in hardware if name != "cpu"]
    offered = client.run_on_scheduler(_offered_resources)
    return [name for name in wanted if not offered.get(name)]


def _offered_resources(dask_scheduler: Any) -> dict[str, int]:
    return {name: len(workers) for name, workers in dask_scheduler.resources.items()}


def plan_chunks(node_ids: list[str], threads: int, chunk_size: int | None = None) -> list[list[str]]:
    """Contiguous slices (a module's tests stay together); each takes 1/(2*threads) of what is left,
    down to 1/(8*threads) of the whole: each chunk costs a scheduler round trip and a fixture teardown."""
    if chunk_size:
        return [node_ids[i:i + chunk_size] for i in range(0, len(node_ids), chunk_size)]
    threads = max(1, threads)
    smallest = math.ceil(len(node_ids) / (8 * threads))
    chunks, start = [], 0
    while start < len(node_ids):
        size = min(MAX_CHUNK, max(smallest, math.ceil((len(node_ids) - start) / (2 * threads))))
        chunks.append(node_ids[start:start + size])
        start += size
    return chunks


def submit_chunks(client: Client, collection: Collection, options: RunOptions, run_id: str) -> dict[Future, list[str]]:
    """Announces every test to the dtmon scheduler plugin, then submits the chunks in order."""
    resources = {name: 1 for name in options.hardware if name != "cpu"} or None
    threads = sum(client.nthreads().values())
    suite_files = None if options.isolate else files_of(collection.node_ids)  # what each kept session collects
    futures: dict[Future, list[str]] = {}
    chunks = plan_chunks(collection.node_ids, threads, 1 if options.isolate else options.chunk_size)
    for index, chunk in enumerate(chunks):
        key = f"dtmon-tests-{run_id}-{index}-{secrets.token_hex(3)}"  # unique when a run submits several groups
        client.log_event(TOPIC, {"op": "tests-submitted", "chunk": key, "type": options.type,
                                 "priority": options.priority, "hardware": list(options.hardware) or ["cpu"],
                                 "task_ids": [task_id(node_id, run_id) for node_id in chunk]})
        with dask.annotate(type=options.type, hardware=list(options.hardware) or ["cpu"]):
            future = client.submit(run_chunk, chunk, collection.rootdir, options.timeout_s, list(options.pytest_args),
                                   run_id, suite_files=suite_files, key=key, priority=options.priority,
                                   resources=resources, workers=options.workers, pure=False)
        futures[future] = chunk
    return futures


def chunk_outcomes(future: Future, chunk: list[str]) -> list[Outcome]:
    """Per-test outcomes of a finished chunk; a chunk lost with its worker fails each of its tests."""
    if future.status == "finished":
        return [Outcome(r["node_id"], r["outcome"], r["error"], r["seconds"]) for r in future.result()]
    if future.status == "cancelled":
        return [Outcome(node_id, "canceled", "canceled") for node_id in chunk]
    error = future.exception()
    return [Outcome(node_id, "failed", f"the chunk running it failed: {error!r}") for node_id in chunk]


def wait_results(client: Client, futures: dict[Future, list[str]], options: RunOptions, attempt: int,
                 on_result: Callable[[Outcome], None]) -> list[Outcome]:
    """Collects outcomes as chunks finish, so progress prints while the rest still runs."""
    outcomes = []
    for future in as_completed(list(futures)):
        worker = ran_on(client, [future.key]).get(future.key)
        for outcome in chunk_outcomes(future, futures[future]):
            outcome.attempt, outcome.worker = attempt, worker
            outcome.quarantined = options.quarantined(outcome.node_id)
            on_result(outcome)
            outcomes.append(outcome)
    return outcomes


def new_run_id() -> str:
    return secrets.token_hex(3)


def run(client: Client, options: RunOptions, on_result: Callable[[Outcome], None] = lambda o: None,
        run_id: str | None = None) -> RunSummary:
    """Collects, submits and waits (then reruns what failed, as asked); the caller owns the Dask client.
    Uncollectable paths are errors."""
    started = time.monotonic()
    summary = RunSummary(run_id=run_id or new_run_id())
    collection = collect(options)
    for path, text in collection.errors:
        summary.outcomes.append(Outcome(path, "error", f"pytest could not collect it:\n{text}"))
        on_result(summary.outcomes[-1])
    summary.outcomes += _attempt(client, collection, options, summary.run_id, 1, on_result)
    for attempt in range(2, options.reruns + 2):
        again = [o.node_id for o in summary.outcomes if o.status in ("failed", "timed_out") and o.attempt == attempt - 1]
        if not again:
            break
        latest = {o.node_id: o for o in _attempt(client, replace(collection, node_ids=again, errors=[]), options,
                                                  f"{summary.run_id}.{attempt}", attempt, on_result)}
        summary.outcomes = [latest.get(o.node_id, o) for o in summary.outcomes]
    summary.seconds = time.monotonic() - started
    return summary


def _attempt(client: Client, collection: Collection, options: RunOptions, run_id: str, attempt: int,
             on_result: Callable[[Outcome], None]) -> list[Outcome]:
    """One pass over the collection; a rerun's tasks carry their own run id (node@run.attempt) and sessions."""
    futures = submit_chunks(client, collection, options, run_id)
    try:
        return wait_results(client, futures, options, attempt, on_result)
    finally:
        client.cancel([f for f in futures if not f.done()])
        client.run(close_sessions, run_id, on_error="ignore")
