"""/api/history and the snapshot command against a real server."""

import os
import subprocess
import sys
import time

import duckdb

from support import bearer


def heartbeat(worker, cpu, ts, memory_used=2.0, total=8.0):
    return {"kind": "worker_heartbeat", "worker_id": worker, "cpu_percent": cpu, "ts": ts,
            "memory_used_gb": memory_used, "memory_total_gb": total}


def test_history_of_the_last_hour_from_raw_samples(live_backend):
    now = time.time()
    start = now - now % 60 - 600  # a whole minute ten minutes ago: one 30 s bucket holds both samples
    live_backend.post_events([
        {"kind": "worker_register", "worker_id": "w1", "hostname": "box", "hardware": ["cuda"]},
        heartbeat("w1", 20.0, start + 1), heartbeat("w1", 60.0, start + 11, memory_used=6.0),
        {"kind": "task_submitted", "task_id": "t1"}, {"kind": "task_started", "task_id": "t1", "worker_id": "w1", "ts": start + 2},
        {"kind": "task_finished", "task_id": "t1", "worker_id": "w1", "status": "completed", "ts": start + 3},
        {"kind": "task_submitted", "task_id": "t2"}, {"kind": "task_started", "task_id": "t2", "worker_id": "w1", "ts": start + 2},
        {"kind": "task_finished", "task_id": "t2", "worker_id": "w1", "status": "failed", "ts": start + 4}])
    answer = live_backend.get("/api/history", range="1h").json()
    assert (answer["tier"], answer["bucket_seconds"]) == ("raw", 30)
    point = next(p for p in answer["points"] if p["workers"])
    assert (point["cpu_avg"], point["cpu_max"], point["memory_avg"], point["memory_max"]) == (40.0, 60.0, 50.0, 75.0)
    assert (point["completed"], point["failed"], point["success_rate"]) == (1, 1, 50.0)
    assert answer["hardware"][0]["type"] == "cuda" and answer["hardware"][0]["success_rate"] == 50.0
    only = live_backend.get("/api/history", range="1h", worker="nobody").json()
    assert all(p["workers"] is None for p in only["points"]) and "hardware" not in only
    assert live_backend.get("/api/history", range="2y").status_code == 400


def test_snapshot_command_copies_the_live_database(live_backend, tmp_path):
    live_backend.post_events([heartbeat("w<script>", 12.5, time.time())])
    out = tmp_path / "copy.duckdb"
    env = {**os.environ, "DTMON_TOKEN": live_backend.admin_token}
    done = subprocess.run([sys.executable, "-m", "backend", "snapshot", str(out), "--url", live_backend.url],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "worker_samples: 1" in done.stdout
    with duckdb.connect(str(out), read_only=True) as copy:
        tables = {name for (name,) in copy.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert {"workers", "tasks", "worker_samples", "alert_rules", "alerts"} <= tables
        assert not tables & {"users", "api_tokens"}
        assert copy.execute("SELECT worker_id, cpu_percent FROM worker_samples").fetchall() == [("w<script>", 12.5)]
        assert copy.execute("SELECT count(*) FROM alert_rules").fetchone()[0] == 6  # 4 fleet, 2 test analytics
    again = subprocess.run([sys.executable, "-m", "backend", "snapshot", str(out), "--url", live_backend.url],
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "exists" in again.stderr


def test_snapshot_needs_admin(client):
    assert client.post("/api/admin/snapshot", headers=bearer(client.user_token)).status_code == 403
