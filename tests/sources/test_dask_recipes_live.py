"""The Dask recipes of the README ("Monitor your fleet"): the Python block, and the preload command lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from distributed import Client

from support import launch, scheduler_address

DOC = Path(__file__).resolve().parents[2] / "README.md"
DASK = str(Path(sys.executable).with_name("dask"))
REPO = str(DOC.parent)


def doc_block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return next(block for block in blocks if containing in block)


def tasks_of_type(backend, task_type: str) -> list[dict]:
    return backend.get("/api/monitoring/tasks", type=task_type, limit=500).json()


def test_single_machine_recipe(live_backend, helpers):
    recipe = doc_block("python", "LocalCluster(").replace("http://127.0.0.1:8050", live_backend.url)
    recipe = recipe.replace("<ingest token>", live_backend.ingest_token).replace("n_workers=4", "n_workers=2")
    namespace: dict = {}
    exec(recipe, namespace)
    try:
        done = helpers.eventually(lambda: (t := tasks_of_type(live_backend, "benchmark")) and len(t) == 100 and
                                  all(x["status"] == "completed" for x in t) and t)
        assert {row["priority"] for row in done} == {5}
        workers = live_backend.get("/api/monitoring/workers").json()
        assert len(workers) == 2 and all("cpu" in w["hardware"] for w in workers)
    finally:
        namespace["client"].close()
        namespace["cluster"].close()


@pytest.fixture
def command_line_cluster(live_backend, tmp_path):
    """`dask scheduler` and `dask worker` processes started as the doc says; ended by their own handles."""
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "DTMON_URL": live_backend.url, "DTMON_TOKEN": live_backend.ingest_token,
           "PYTHONPATH": REPO}  # "this repository installed or on PYTHONPATH"
    started: list[subprocess.Popen] = []
    try:
        started.append(launch([DASK, "scheduler", "--preload", "dtmon_reporter.dask_scheduler",
                               "--dtmon-interval", "0.5", "--scheduler-file", str(scheduler_file), "--port", "0",
                               "--no-dashboard"], env, tmp_path))
        address = scheduler_address(scheduler_file, started[0])
        started.append(launch([DASK, "worker", address, "--preload", "dtmon_reporter.dask_worker",
                               "--no-dtmon-browser-probe", "--name", "cli-worker", "--nthreads", "1",
                               "--no-dashboard"], env, tmp_path))
        yield address, started
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(30)


def test_multi_machine_command_lines(live_backend, command_line_cluster, helpers):
    address, (scheduler, worker) = command_line_cluster
    with Client(address, timeout="60s") as client:
        client.wait_for_workers(1, timeout=60)
        assert client.submit(sum, [1, 2, 3], key="cli-sum").result(timeout=60) == 6
    found = helpers.eventually(lambda: live_backend.get("/api/monitoring/tasks/cli-sum").json().get("task"))
    helpers.eventually(lambda: live_backend.get("/api/monitoring/tasks/cli-sum").json()["task"]["status"]
                       == "completed")
    assert found["worker_id"] == "cli-worker"
    worker_row = helpers.eventually(lambda: live_backend.get("/api/monitoring/workers/cli-worker").json()
                                    .get("worker"))
    assert worker_row["hardware"] == ["cpu"] and worker_row["capabilities"]["hardware"]["cpu"]["available"]
    worker.terminate()
    worker.wait(30)
    helpers.eventually(lambda: live_backend.get("/api/monitoring/workers/cli-worker").json()["worker"]["status"]
                       == "stopped")  # SIGTERM closes the worker cleanly
