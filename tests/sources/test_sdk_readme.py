"""The SDK recipe of README ("Monitor your fleet") runs as written against a real backend."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from dtmon_reporter.monitoring import MonitoringSystem

DOC = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def block_containing(text: str) -> str:
    return next(block for block in python_blocks() if text in block)


@pytest.fixture
def coordinator_module(monkeypatch):
    """The doc's adapter class, importable as `coordinator` exactly as the snippet imports it."""
    module = types.ModuleType("coordinator")
    exec(block_containing("class DistributedTestingCoordinator"), module.__dict__)
    monkeypatch.setitem(sys.modules, "coordinator", module)
    return module


def test_readme_sdk_example_runs_as_written(live_backend, coordinator_module, monkeypatch, helpers):
    monkeypatch.setenv("DTMON_URL", live_backend.url)
    monkeypatch.setenv("DTMON_TOKEN", live_backend.ingest_token)
    namespace: dict = {}
    exec(block_containing("monitoring_system.start()"), namespace)
    system, coordinator = namespace["monitoring_system"], namespace["coordinator"]
    try:
        assert system.running and system.collection_interval == 10
        coordinator.nodes["build-01"] = {"hostname": "build-01", "hardware": ["cpu", "cuda"], "cpu_percent": 40.0,
                                         "memory_used_gb": 4.0, "memory_total_gb": 16.0, "rtt_ms": 1.5}
        coordinator.jobs["suite-a"] = {"status": "running", "worker_id": "build-01", "priority": 4}
        coordinator.jobs["suite-b"] = {"status": "failed", "worker_id": "build-01", "error": "AssertionError: x"}
        system.collect_once()
        worker = helpers.eventually(lambda: live_backend.get("/api/monitoring/workers/build-01").json().get("worker"))
        assert worker["hardware"] == ["cpu", "cuda"] and worker["cpu"] == 40.0 and worker["memory_percent"] == 25.0
        running = live_backend.get("/api/monitoring/tasks/suite-a").json()["task"]
        assert running["status"] == "running" and running["priority"] == 4 and running["worker_id"] == "build-01"
        coordinator.jobs["suite-a"]["status"] = "completed"
        del coordinator.nodes["build-01"]
        system.collect_once()
        helpers.eventually(lambda: live_backend.get("/api/monitoring/tasks/suite-a").json()["task"]["status"]
                           == "completed")
        failed = live_backend.get("/api/monitoring/tasks/suite-b").json()["task"]
        assert failed["status"] == "failed" and failed["error"] == "AssertionError: x"
        assert helpers.eventually(lambda: live_backend.get("/api/monitoring/workers/build-01").json()["worker"]
                                  ["status"] == "stopped")
    finally:
        assert system.stop(10)


def test_sdk_refuses_objects_that_are_not_coordinators():
    with pytest.raises(TypeError):
        MonitoringSystem(coordinator=object(), url="http://127.0.0.1:9", token="t")


def test_sdk_names_unknown_metrics():
    system = MonitoringSystem(coordinator=types.SimpleNamespace(workers=list, tasks=list),
                              url="http://127.0.0.1:9", token="t")
    with pytest.raises(ValueError, match="gpu_temperature"):
        system.enable_real_time_metrics(metrics=["cpu", "gpu_temperature"])
