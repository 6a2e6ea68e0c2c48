"""The host agent against a real backend that goes away and comes back on the same port and file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from dtmon_reporter.agent import HostAgent
from dtmon_reporter.client import MonitoringClient
from dtmon_reporter.hardware import detect_hardware, probe_cpu


@pytest.fixture
def run_agent(live_backend):
    """Starts an agent thread; yields a function that builds it and returns (agent, stop)."""
    running: list[tuple[threading.Event, threading.Thread]] = []

    def start(worker_id: str, buffer_size: int) -> tuple[HostAgent, threading.Event]:
        client = MonitoringClient(live_backend.url, live_backend.ingest_token, buffer_size=buffer_size,
                                  linger_s=0.02, backoff_base_s=0.05, backoff_max_s=0.2)
        agent = HostAgent(client, detect_hardware({"cpu": probe_cpu}), worker_id=worker_id, interval_s=0.2)
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, args=(stop, 20.0), daemon=True)
        thread.start()
        running.append((stop, thread))
        return agent, stop

    yield start
    for stop, thread in running:
        stop.set()
        thread.join(30)


def sample_times(backend, helpers, worker_id: str) -> list[float]:
    rows = helpers.sql_rows(backend, f"SELECT epoch(ts) FROM worker_samples WHERE worker_id = '{worker_id}' "
                                     "ORDER BY ts")
    return [row[0] for row in rows]


def outage(backend, seconds: float) -> tuple[float, float]:
    """Stops the server for a while; returns when it went down and when it was serving again."""
    backend.stop()
    went_down = time.time()
    time.sleep(seconds)
    backend.start()
    return went_down, time.time()


def test_heartbeats_buffered_during_an_outage_all_arrive(live_backend, run_agent, helpers):
    agent, stop = run_agent("agent-outage", buffer_size=1000)
    helpers.eventually(lambda: sample_times(live_backend, helpers, "agent-outage"))
    went_down, came_back = outage(live_backend, 2.0)
    helpers.eventually(lambda: agent.client.pending == 0 and agent.heartbeats > 15)
    stop.set()
    helpers.eventually(lambda: not agent.client.pending and agent.client._thread and
                       not agent.client._thread.is_alive())
    times = sample_times(live_backend, helpers, "agent-outage")
    assert len(times) == agent.heartbeats and agent.client.dropped == 0
    assert sum(went_down < t < came_back for t in times) >= 3  # taken while the backend was down
    worker = live_backend.get("/api/monitoring/workers/agent-outage").json()["worker"]
    assert worker["status"] == "stopped" and worker["hardware"] == ["cpu"]


def test_outage_longer_than_the_buffer_keeps_the_newest_and_reports_drops(live_backend, run_agent, helpers):
    agent, stop = run_agent("agent-small-buffer", buffer_size=4)
    helpers.eventually(lambda: sample_times(live_backend, helpers, "agent-small-buffer"))
    went_down, came_back = outage(live_backend, 2.5)
    helpers.eventually(lambda: agent.client.pending == 0 and agent.client.dropped > 0)
    stop.set()
    helpers.eventually(lambda: agent.client._thread and not agent.client._thread.is_alive())
    times = sample_times(live_backend, helpers, "agent-small-buffer")
    kept = [t for t in times if went_down < t < came_back]
    assert len(times) < agent.heartbeats
    assert len(kept) <= 4  # the buffer bound, heartbeats sharing it with re-registrations
    assert all(t > went_down + 1.0 for t in kept)  # the oldest outage samples were the ones dropped
    worker = live_backend.get("/api/monitoring/workers/agent-small-buffer").json()["worker"]
    assert worker["capabilities"]["dropped_events"] > 0


def test_agent_command_stops_cleanly_on_sigterm(live_backend, helpers, tmp_path):
    env = {**os.environ, "DTMON_URL": live_backend.url, "DTMON_TOKEN": live_backend.ingest_token}
    command = [sys.executable, "-m", "backend", "agent", "--interval", "0.5", "--worker-id", "agent-cli",
               "--no-browser-probe"]
    with open(tmp_path / "agent.log", "w") as log:
        agent = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        worker = helpers.eventually(lambda: live_backend.get("/api/monitoring/workers/agent-cli").json().get("worker"))
        assert worker["status"] in ("active", "busy") and "cpu" in worker["hardware"]
        helpers.eventually(lambda: live_backend.get("/api/monitoring/workers/agent-cli").json()["worker"]["cpu"]
                           is not None)
    finally:
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(30)
    assert code == 0, (tmp_path / "agent.log").read_text()
    assert "stopped; sent" in (tmp_path / "agent.log").read_text()
    worker = live_backend.get("/api/monitoring/workers/agent-cli").json()["worker"]
    assert worker["status"] == "stopped"
