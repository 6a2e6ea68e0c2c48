"""The demo runs the bundled suite on a local cluster, reports real failures, and stops cleanly."""

from __future__ import annotations

from dtmon_reporter.demo import DemoRunner

EXPECTED_FAILURES = {"test_float_addition_is_exact", "test_round_half_goes_up", "test_json_roundtrip_keeps_tuples",
                     "test_upper_then_lower_is_identity", "test_naive_and_aware_times_compare"}


def finished(backend, status: str) -> list[dict]:
    return backend.get("/api/monitoring/tasks", status=status, limit=200).json()


def test_demo_round_start_status_stop(live_backend, helpers):
    runner = DemoRunner(live_backend.url, live_backend.ingest_token, workers=2, pause_s=60, test_timeout_s=30)
    assert runner.start() and not runner.start()  # a second start while running is refused
    try:
        helpers.eventually(lambda: runner.rounds >= 1 or runner.error, timeout=300)  # a ceiling: ~30 s when idle
        assert runner.error is None
        assert runner.last_round == {"passed": 12, "failed": 6}, runner.last_round
        status = runner.status()
        assert status["running"] and status["started_at"].endswith("Z") and status["rounds"] == 1
    finally:
        assert runner.stop(60)
    failed = helpers.eventually(lambda: (rows := finished(live_backend, "failed")) and len(rows) == 6 and rows)
    names = {row["id"].split("::", 1)[1].rsplit("@", 1)[0] for row in failed}
    assert EXPECTED_FAILURES < names and "test_opposite_lock_order_finishes" in names
    deadlock = next(row for row in failed if "lock_order" in row["id"])
    assert deadlock["status"] == "timed_out"
    benchmarks = live_backend.get("/api/monitoring/tasks", type="benchmark", limit=50).json()
    assert len(benchmarks) == 4 and all(row["status"] == "completed" for row in benchmarks)
    workers = helpers.eventually(lambda: (w := live_backend.get("/api/monitoring/workers").json()) and
                                 all(x["status"] == "stopped" for x in w) and w)
    assert sorted(w["id"] for w in workers) == ["demo-worker-000", "demo-worker-001"]
    assert not runner.running and runner.status()["started_at"] is None
