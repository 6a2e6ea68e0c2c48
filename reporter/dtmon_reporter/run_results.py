"""What run-tests shares with the dashboard: the runner plan (drained workers, quarantined tests)
before scheduling, and one test_result per attempt after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from dtmon_reporter import dask_names
from dtmon_reporter.client import MonitoringClient, normalise_base_url

# run-tests statuses -> test_result outcomes; a canceled test never ran, so it is not a result.
OUTCOMES = {"passed": "passed", "skipped": "skipped", "failed": "failed", "timed_out": "timed_out", "error": "error"}


class PlanError(RuntimeError):
    """The backend could not say which workers are drained."""


@dataclass
class RunPlan:
    """Workers to leave alone and tests whose failure does not fail the run."""

    drained: set[str] = field(default_factory=set)
    quarantined: set[tuple[str, str | None]] = field(default_factory=set)

    def is_quarantined(self, node_id: str, hardware: str) -> bool:
        return (node_id, None) in self.quarantined or (node_id, hardware) in self.quarantined


def fetch_plan(url: str, token: str) -> RunPlan:
    """GET /api/runner/plan with the ingest token run-tests already holds."""
    try:
        response = httpx.get(f"{normalise_base_url(url)}/api/runner/plan", timeout=30,
                             headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise PlanError(f"cannot reach {url}: {type(exc).__name__}") from None
    if not response.is_success:
        raise PlanError(f"{url} refused the runner plan: HTTP {response.status_code} {response.text[:200]}")
    body = response.json()
    return RunPlan(set(body["drained"]), {(q["test_id"], q["hardware"]) for q in body["quarantined"]})


def _dtmon_ids(dask_scheduler: Any) -> dict[str, str]:
    """Worker address -> the id the dashboard shows (as the dtmon scheduler plugin names it)."""
    plugin = dask_scheduler.plugins.get("dtmon")
    prefix = getattr(plugin, "worker_prefix", "")
    return {address: dask_names.worker_id(address, ws.name, prefix) for address, ws in dask_scheduler.workers.items()}


def worker_ids(client: Any) -> dict[str, str]:
    return client.run_on_scheduler(_dtmon_ids)


def allowed_workers(client: Any, drained: set[str]) -> list[str] | None:
    """Addresses of the workers that are not drained; None when nothing is drained."""
    if not drained:
        return None
    return sorted(address for address, wid in worker_ids(client).items() if wid not in drained)


def _ran_on(dask_scheduler: Any, keys: list[str]) -> dict[str, str]:
    """Where each finished or failed task ran (its result holder, or the worker it erred on)."""
    found = {}
    for key in keys:
        ts = dask_scheduler.tasks.get(key)
        places = (ts.who_has or getattr(ts, "erred_on", None) or ()) if ts is not None else ()
        address = next((getattr(w, "address", w) for w in places), None)
        if address:
            found[key] = address
    return found


def ran_on(client: Any, keys: list[str]) -> dict[str, str]:
    """Task key -> dashboard worker id, for keys the scheduler still knows."""
    ids = worker_ids(client)
    return {key: ids.get(address, address) for key, address in client.run_on_scheduler(_ran_on, keys=keys).items()}


class ResultSender:
    """One test_result per attempt, with the suite's commit and branch."""

    def __init__(self, client: MonitoringClient, run_id: str, hardware: str, commit: str | None,
                 branch: str | None) -> None:
        self.client, self.run_id, self.hardware, self.commit, self.branch = client, run_id, hardware, commit, branch

    def send(self, node_id: str, status: str, attempt: int, worker: str | None, seconds: float | None,
             error: str | None) -> None:
        outcome = OUTCOMES.get(status)
        if outcome is None or worker is None:
            return
        self.client.test_result(self.run_id, node_id, outcome, worker, self.hardware, duration_s=seconds,
                                commit=self.commit, branch=self.branch, attempt=attempt, error=error or None)
