"""The CLI as a user runs it, and acknowledged events surviving kill -9 of the server."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from support import ADMIN_PASSWORD, bearer, free_port, login, make_token

ENV = os.environ | {"DTMON_ADMIN_PASSWORD": ADMIN_PASSWORD}


def cli(*args, stdin="", env=None):
    return subprocess.run([sys.executable, "-m", "backend", *args], input=stdin, capture_output=True, text=True,
                          env=env or ENV, timeout=120)


def start_server(db, port, env=None):
    process = subprocess.Popen([sys.executable, "-m", "backend", "serve", "--db", db, "--port", str(port)],
                               env=env or ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(process.stderr.read())


@pytest.fixture
def server(tmp_path):
    db, port = str(tmp_path / "m.duckdb"), free_port()
    process = start_server(db, port)
    yield db, port, process
    if process.poll() is None:
        process.terminate()
        process.wait(30)


def test_acknowledged_events_survive_kill_9(server):
    db, port, process = server
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=30) as http:
        ingest = make_token(http, login(http, base), "ingest", base)
        events = [{"kind": "worker_heartbeat", "worker_id": f"w{i}", "cpu_percent": i} for i in range(50)]
        events += [{"kind": "task_finished", "task_id": f"t{i}", "status": "completed"} for i in range(30)]
        assert http.post(f"{base}/api/ingest", json={"events": events}, headers=bearer(ingest)).status_code == 200
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    restarted = start_server(db, port)
    try:
        with httpx.Client(timeout=30) as http:
            token = login(http, base)
            cluster = http.get(f"{base}/api/monitoring/cluster", headers=bearer(token)).json()
        assert (cluster["total_workers"], cluster["total_tasks"]) == (50, 30)
    finally:
        restarted.terminate()
        restarted.wait(30)


def test_recovery_does_not_depend_on_other_workers_clocks(tmp_path):
    """A worker whose clock runs ahead (within the allowed skew) must not hide a later acknowledged batch
    of other workers after kill -9; the per-tick fold is held off so only recovery can bring them back."""
    db, port = str(tmp_path / "r.duckdb"), free_port()
    env = ENV | {"DTMON_TICK_INTERVAL": "3600", "DTMON_MAX_CLOCK_SKEW": "120"}
    process = start_server(db, port, env)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=30) as http:
        admin = login(http, base)
        ingest = make_token(http, admin, "ingest", base)
        ahead = [{"kind": "worker_heartbeat", "worker_id": "ahead", "cpu_percent": 1, "ts": time.time() + 100}]
        assert http.post(f"{base}/api/ingest", json={"events": ahead}, headers=bearer(ingest)).status_code == 200
        assert http.get(f"{base}/api/monitoring/cluster", headers=bearer(admin)).status_code == 200  # folded
        later = [{"kind": "worker_heartbeat", "worker_id": f"w{i}", "cpu_percent": 40 + i} for i in range(3)]
        assert http.post(f"{base}/api/ingest", json={"events": later}, headers=bearer(ingest)).status_code == 200
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    restarted = start_server(db, port, env)
    try:
        with httpx.Client(timeout=30) as http:
            workers = http.get(f"{base}/api/monitoring/workers", headers=bearer(login(http, base))).json()
        assert {worker["id"]: worker["cpu"] for worker in workers} == {"ahead": 1, "w0": 40, "w1": 41, "w2": 42}
    finally:
        restarted.terminate()
        restarted.wait(30)


def test_cli_refuses_a_database_the_server_holds(server):
    db, _, _ = server
    result = cli("tokens", "create", "--role", "ingest", "--db", db)
    assert result.returncode != 0
    assert "held by another process" in result.stderr and "POST /api/auth/tokens" in result.stderr


def test_users_and_tokens_commands(tmp_path):
    db = str(tmp_path / "c.duckdb")
    assert cli("users", "add", "carol", "--role", "user", "--db", db, stdin="carol-password\n").returncode == 0
    duplicate = cli("users", "add", "carol", "--role", "user", "--db", db, stdin="carol-password\n")
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr
    short = cli("users", "add", "dave", "--role", "user", "--db", db, stdin="short\n")
    assert "at least 8 characters" in short.stderr
    created = cli("tokens", "create", "--role", "ingest", "--name", "rack-1", "--db", db)
    assert created.returncode == 0 and len(created.stdout.strip()) >= 40
    listed = cli("tokens", "list", "--db", db)
    assert "rack-1" in listed.stdout and created.stdout.strip() not in listed.stdout
    bad_role = cli("tokens", "create", "--role", "root", "--db", db)
    assert bad_role.returncode == 2 and "--role" in bad_role.stderr


def test_help_for_each_command():
    for args in (["--help"], ["serve", "--help"], ["users", "add", "--help"], ["tokens", "create", "--help"]):
        result = cli(*args)
        assert result.returncode == 0 and "usage: python -m backend" in result.stdout


def test_bad_setting_names_its_variable():
    result = cli("serve", "--help", env=ENV | {"DTMON_TICK_INTERVAL": "fast"})
    assert result.returncode != 0 and "DTMON_TICK_INTERVAL" in result.stderr
