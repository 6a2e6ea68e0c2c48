"""Distributed pytest runs: collect node ids, submit one annotated Dask task each, summarise."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import dask
from distributed import Client, Future, as_completed

from dtmon_reporter.pytest_task import TestTimedOut, pytest_command, run_node


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


@dataclass
class Outcome:
    """The result of one node id as the run-tests summary shows it."""

    node_id: str
    status: str  # passed, skipped, failed, timed_out, canceled
    error: str = ""


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
        return [o for o in self.outcomes if o.status in ("failed", "timed_out", "canceled")]

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0

    def text(self) -> str:
        """Human summary: one line per failure, then the tally."""
        lines = [f"FAILED {o.node_id} [{o.status}]: {_first_line(o.error)}" for o in self.failures]
        tally = ", ".join(f"{self.count(s)} {s.replace('_', ' ')}" for s in
                          ("passed", "failed", "timed_out", "skipped", "canceled") if self.count(s))
        lines.append(f"run {self.run_id}: {tally or 'nothing ran'} in {self.seconds:.1f} s")
        return "\n".join(lines)


def _first_line(text: str) -> str:
    assertion = next((line for line in text.splitlines() if line.startswith("E ")), None)
    return (assertion or text.strip().splitlines()[0] if text.strip() else "").strip()[:200]


def collect_node_ids(options: RunOptions) -> list[str]:
    """Asks pytest itself which node ids the paths hold (no import of the suite in this process)."""
    command = pytest_command(list(options.paths), ["--collect-only", *options.pytest_args])
    done = subprocess.run(command, cwd=options.cwd, capture_output=True, text=True, timeout=300, check=False)
    node_ids = parse_collected(done.stdout)
    if done.returncode not in (0, 5) or not node_ids:
        raise CollectionError((done.stdout + done.stderr).strip() or "pytest collected no tests")
    return node_ids


def parse_collected(output: str) -> list[str]:
    """`--collect-only -q` prints one node id per line (ids may hold spaces), then a blank line."""
    ids = []
    for line in output.splitlines():
        if not line.strip():
            break
        if "::" in line and not line[0].isspace():
            ids.append(line.rstrip())
    return ids


def missing_hardware(client: Client, hardware: list[str]) -> list[str]:
    """Hardware no connected worker offers as a Dask resource; such tasks would wait forever."""
    wanted = [name for name in hardware if name != "cpu"]
    offered = client.run_on_scheduler(_offered_resources)
    return [name for name in wanted if not offered.get(name)]


def _offered_resources(dask_scheduler: Any) -> dict[str, int]:
    return {name: len(workers) for name, workers in dask_scheduler.resources.items()}


def submit_nodes(client: Client, node_ids: list[str], options: RunOptions, run_id: str) -> dict[Future, str]:
    """One task per node id, annotated so the dashboard shows type, priority and hardware."""
    resources = {name: 1 for name in options.hardware if name != "cpu"} or None
    futures: dict[Future, str] = {}
    with dask.annotate(type=options.type, hardware=list(options.hardware) or ["cpu"]):
        for node_id in node_ids:
            future = client.submit(run_node, node_id, options.cwd, options.timeout_s, list(options.pytest_args),
                                   key=f"{node_id}@{run_id}", priority=options.priority, resources=resources,
                                   pure=False, retries=0)
            futures[future] = node_id
    return futures


def wait_results(futures: dict[Future, str], on_result: Callable[[Outcome], None]) -> list[Outcome]:
    """Collects outcomes as tasks finish, so progress prints while the rest still runs."""
    outcomes = []
    for future in as_completed(list(futures)):
        outcome = _outcome(future, futures[future])
        on_result(outcome)
        outcomes.append(outcome)
    return outcomes


def _outcome(future: Future, node_id: str) -> Outcome:
    if future.status == "finished":
        return Outcome(node_id, future.result()["outcome"])
    if future.status == "cancelled":
        return Outcome(node_id, "canceled", "canceled")
    error = future.exception()
    status = "timed_out" if isinstance(error, TestTimedOut) else "failed"
    return Outcome(node_id, status, str(error.args[0]) if error.args else repr(error))


def run(client: Client, options: RunOptions, on_result: Callable[[Outcome], None] = lambda o: None,
        node_ids: list[str] | None = None) -> RunSummary:
    """Collects (unless given node ids), submits and waits; the caller owns the Dask client."""
    started = time.monotonic()
    summary = RunSummary(run_id=secrets.token_hex(3))
    ids = node_ids if node_ids is not None else collect_node_ids(options)
    futures = submit_nodes(client, ids, options, summary.run_id)
    try:
        summary.outcomes = wait_results(futures, on_result)
    finally:
        client.cancel([f for f in futures if not f.done()])
    summary.seconds = time.monotonic() - started
    return summary
