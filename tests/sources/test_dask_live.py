"""A real LocalCluster with the scheduler plugin and worker preload, reporting to a real backend."""

from __future__ import annotations

import os
import signal
import threading
import time

import dask
import httpx
import pytest
from distributed import Client, LocalCluster, wait

from dtmon_reporter.dask_plugin import DtmonSchedulerPlugin

GATE = threading.Event()


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def divide(a: float, b: float) -> float:
    return a / b


def wait_for_gate() -> str:
    GATE.wait(60)
    return "opened"


@pytest.fixture
def cluster_with_plugin(live_backend):
    plugin = DtmonSchedulerPlugin(live_backend.url, live_backend.ingest_token, interval_s=0.3, worker_prefix="w-")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                      preload=["dtmon_reporter.dask_worker"], preload_argv=["--no-dtmon-browser-probe"],
                      heartbeat_interval="200ms") as cluster, Client(cluster) as client:
        client.register_plugin(plugin, name=plugin.name)
        yield cluster, client


def workers_by_id(backend) -> dict[str, dict]:
    return {w["id"]: w for w in backend.get("/api/monitoring/workers", limit=100).json()}


def task(backend, task_id: str) -> dict:
    response = backend.get(f"/api/monitoring/tasks/{task_id}")
    return response.json()["task"] if response.status_code == 200 else {}


def test_workers_appear_with_hardware_and_rtt(live_backend, cluster_with_plugin, helpers):
    workers = helpers.eventually(lambda: (w := workers_by_id(live_backend)) and
                                 all(x["rtt_ms"] is not None for x in w.values()) and w)
    assert sorted(workers) == ["w-000", "w-001"]
    for worker in workers.values():
        assert worker["status"] in ("active", "busy") and worker["hardware"] == ["cpu"]
        assert worker["memory_total"] > 0
    detail = live_backend.get("/api/monitoring/workers/w-000").json()["worker"]
    assert detail["capabilities"]["hardware"]["cpu"]["available"] is True
    network = live_backend.get("/api/monitoring/network").json()
    assert {"coordinator", "w-000", "w-001"} <= {node["id"] for node in network["nodes"]}


def test_tasks_report_status_worker_duration_and_error(live_backend, cluster_with_plugin, helpers):
    cluster, client = cluster_with_plugin
    with dask.annotate(type="test", priority=7):
        passing = client.submit(nap, 0.3, key="nap-0.3")
        failing = client.submit(divide, 1, 0, key="divide-by-zero")
    with dask.annotate(type="benchmark"):
        gated = client.submit(wait_for_gate, key="gated", pure=False)
    wait([passing, failing])
    running = helpers.eventually(lambda: task(live_backend, "gated").get("status") == "running" and
                                 task(live_backend, "gated"))
    assert running["worker_id"] in ("w-000", "w-001") and running["type"] == "benchmark"
    GATE.set()
    assert gated.result(timeout=30) == "opened"
    done = helpers.eventually(lambda: task(live_backend, "nap-0.3").get("status") == "completed" and
                              task(live_backend, "nap-0.3"))
    assert done["type"] == "test" and done["priority"] == 7 and done["worker_id"] in ("w-000", "w-001")
    assert done["duration"] >= 0.3
    failed = helpers.eventually(lambda: task(live_backend, "divide-by-zero").get("status") == "failed" and
                                task(live_backend, "divide-by-zero"))
    assert "ZeroDivisionError" in failed["error"] and failed["worker_id"] in ("w-000", "w-001")


def test_scaling_shows_workers_joining_and_leaving(live_backend, cluster_with_plugin, helpers):
    cluster, client = cluster_with_plugin
    helpers.eventually(lambda: len(workers_by_id(live_backend)) == 2)
    cluster.scale(3)
    client.wait_for_workers(3, timeout=30)
    helpers.eventually(lambda: sum(w["status"] in ("active", "busy")
                                   for w in workers_by_id(live_backend).values()) == 3)
    cluster.scale(1)
    workers = helpers.eventually(lambda: (w := workers_by_id(live_backend)) and
                                 sum(x["status"] == "stopped" for x in w.values()) == 2 and w)
    assert len(workers) == 3
    cluster_summary = live_backend.get("/api/monitoring/cluster").json()
    assert cluster_summary["active_workers"] == 1 and cluster_summary["stopped_workers"] == 2  # retired: no alert
    assert cluster_summary["offline_workers"] == 0


def test_running_means_executing_on_a_worker_thread(live_backend, helpers):
    plugin = DtmonSchedulerPlugin(live_backend.url, live_backend.ingest_token, interval_s=0.3, linger_s=0.05)
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=False, dashboard_address=None,
                      preload=["dtmon_reporter.dask_worker"], preload_argv=["--no-dtmon-browser-probe"]) as cluster, \
            Client(cluster) as client:
        client.register_plugin(plugin, name=plugin.name)
        with dask.annotate(type="honest"):
            futures = client.map(nap, [0.4] * 30, key=[f"honest-{i}" for i in range(30)])
        samples = []
        while not all(f.done() for f in futures):
            rows = live_backend.get("/api/monitoring/tasks", type="honest", limit=100).json()
            samples.append([row["status"] for row in rows])
            time.sleep(0.05)
    helpers.eventually(lambda: [r["status"] for r in live_backend.get("/api/monitoring/tasks", type="honest",
                                                                       limit=100).json()] == ["completed"] * 30)
    running = [statuses.count("running") for statuses in samples]
    assert max(running) <= 3 and max(running) >= 1, running
    assert any("pending" in statuses for statuses in samples)


def test_a_killed_worker_says_no_goodbye_and_a_closed_one_does(live_backend, helpers):
    plugin = DtmonSchedulerPlugin(live_backend.url, live_backend.ingest_token, interval_s=0.3, worker_prefix="k-")
    offline_at = "SELECT worker_id, offline_at IS NOT NULL FROM workers WHERE worker_id = 'k-000'"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.register_plugin(plugin, name=plugin.name)
        helpers.eventually(lambda: "k-000" in workers_by_id(live_backend))
        first = next(iter(client.scheduler_info()["workers"]))
        os.kill(client.run(os.getpid, workers=[first])[first], signal.SIGKILL)
        # the nanny starts a new process under the same name: it is back, and nothing said goodbye
        helpers.eventually(lambda: (w := client.scheduler_info()["workers"]) and first not in w)
        client.wait_for_workers(1, timeout=30)
        said_goodbye = httpx.post(f"{live_backend.url}/api/sql", json={"sql": offline_at}, timeout=30,
                                  headers={"Authorization": f"Bearer {live_backend.admin_token}"}).json()["rows"]
        assert said_goodbye == [["k-000", False]]
    helpers.eventually(lambda: workers_by_id(live_backend)["k-000"]["status"] == "stopped")  # closed cleanly
