"""Range queries over seeded history answer from the right tier with exact values."""

from datetime import datetime, timedelta, timezone

import pytest

from storage.history import history, plan
from storage.store import Store

NOW = datetime(2026, 11, 29, 8, 0, 0)
NOW_EPOCH = NOW.replace(tzinfo=timezone.utc).timestamp()
RAW_KEEP, MINUTE_KEEP = 48 * 3600.0, 30 * 86400.0


def at(seconds_before_now):
    return NOW - timedelta(seconds=seconds_before_now)


@pytest.fixture()
def store(tmp_path):
    opened = Store(str(tmp_path / "history.duckdb")).open()
    opened.write_sync(lambda con: con.executemany(
        "INSERT INTO workers (worker_id, hostname, hardware) VALUES (?, ?, ?)",
        [("w1", "box-1", ["cpu", "cuda"]), ("w2", "box-2", ["cpu"])]))
    yield opened
    opened.close()


def insert(store, sql, rows):
    store.write_sync(lambda con: con.executemany(sql, rows))


def raw(store, rows):
    insert(store, "INSERT INTO worker_samples (ts, worker_id, cpu_percent, memory_percent, memory_used_gb) "
                  "VALUES (?, ?, ?, ?, ?)", rows)


def rollup(store, table, rows):
    insert(store, f"INSERT INTO {table} (bucket, worker_id, samples, cpu_avg, cpu_max, mem_pct_avg, mem_pct_max, "
                  "mem_used_avg_gb) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def finished(store, rows):
    insert(store, "INSERT INTO tasks (task_id, status, worker_id, finished_at) VALUES (?, ?, ?, ?)", rows)


def ask(store, span, end_before_now=0, **scope):
    end = NOW_EPOCH - end_before_now
    return store.read_sync(lambda cur: history(cur, end - span, end, NOW_EPOCH, RAW_KEEP, MINUTE_KEEP, **scope))


def test_plan_picks_tier_by_span_and_retention():
    assert plan(NOW_EPOCH - 3600, NOW_EPOCH, NOW_EPOCH, RAW_KEEP, MINUTE_KEEP) == ("raw", 30)
    assert plan(NOW_EPOCH - 86400, NOW_EPOCH, NOW_EPOCH, RAW_KEEP, MINUTE_KEEP) == ("minute", 600)
    assert plan(NOW_EPOCH - 30 * 86400, NOW_EPOCH, NOW_EPOCH, RAW_KEEP, MINUTE_KEEP) == ("hour", 21600)
    three_days_ago = NOW_EPOCH - 3 * 86400
    assert plan(three_days_ago - 3600, three_days_ago, NOW_EPOCH, RAW_KEEP, MINUTE_KEEP) == ("minute", 60)
    forty_days_ago = NOW_EPOCH - 40 * 86400
    assert plan(forty_days_ago - 86400, forty_days_ago, NOW_EPOCH, RAW_KEEP, MINUTE_KEEP)[0] == "hour"


def test_one_hour_from_raw_samples(store):
    raw(store, [(at(3600), "w1", 10.0, 20.0, 1.0), (at(3590), "w1", 20.0, 40.0, 2.0),
                (at(3580), "w1", 60.0, 60.0, 3.0), (at(3595), "w2", 40.0, 80.0, 4.0),
                (at(60), "w2", 5.0, 5.0, 0.5)])
    rollup(store, "worker_samples_minute", [(at(3600), "w1", 6, 99.0, 99.0, 99.0, 99.0, 9.0)])
    finished(store, [("a", "completed", "w1", at(3599)), ("b", "completed", "w2", at(3598)),
                     ("c", "completed", "w1", at(3590)), ("d", "failed", "w2", at(3580)),
                     ("e", "timed_out", "w1", at(50))])
    answer = ask(store, 3600)
    assert (answer["tier"], answer["bucket_seconds"]) == ("raw", 30)
    first, last = answer["points"]
    assert first == {"ts": "2026-11-29T07:00:00Z", "cpu_avg": 32.5, "cpu_max": 60.0, "memory_avg": 50.0,
                     "memory_max": 80.0, "memory_used_avg_gb": 2.5, "workers": 2,
                     "completed": 3, "failed": 1, "success_rate": 75.0}
    assert last["ts"] == "2026-11-29T07:59:00Z" and last["workers"] == 1 and last["cpu_avg"] == 5.0
    assert (last["completed"], last["failed"], last["success_rate"]) == (0, 1, 0.0)


def test_one_day_from_minute_rollups_weighted_by_samples(store):
    rollup(store, "worker_samples_minute", [
        (at(86400), "w1", 6, 50.0, 80.0, 10.0, 20.0, 1.0),
        (at(86340), "w1", 2, 10.0, 20.0, 30.0, 40.0, 2.0),
        (at(86280), "w2", 6, 90.0, 99.0, 50.0, 70.0, 3.0),
        (at(600), "w2", 6, 1.0, 2.0, 3.0, 4.0, 5.0)])
    raw(store, [(at(86400), "w1", 0.0, 0.0, 0.0)])
    rollup(store, "worker_samples_hour", [(at(86400), "w1", 360, 42.0, 42.0, 42.0, 42.0, 4.2)])
    answer = ask(store, 86400)
    assert (answer["tier"], answer["bucket_seconds"]) == ("minute", 600)
    first, last = answer["points"]
    assert first["ts"] == "2026-11-28T08:00:00Z"
    assert first["cpu_avg"] == pytest.approx((6 * 50 + 2 * 10 + 6 * 90) / 14)
    assert (first["cpu_max"], first["memory_max"], first["workers"]) == (99.0, 70.0, 2)
    assert first["memory_avg"] == pytest.approx((6 * 10 + 2 * 30 + 6 * 50) / 14)
    assert last["ts"] == "2026-11-29T07:50:00Z" and last["cpu_avg"] == 1.0


def test_thirty_days_from_hour_rollups(store):
    rollup(store, "worker_samples_hour", [
        (at(30 * 86400), "w1", 360, 20.0, 90.0, 30.0, 60.0, 2.0),
        (at(30 * 86400 - 3600), "w2", 120, 60.0, 70.0, 50.0, 55.0, 4.0),
        (at(3600), "w1", 360, 33.0, 44.0, 55.0, 66.0, 7.0)])
    rollup(store, "worker_samples_minute", [(at(3600), "w1", 6, 99.0, 99.0, 99.0, 99.0, 9.0)])
    answer = ask(store, 30 * 86400)
    assert (answer["tier"], answer["bucket_seconds"]) == ("hour", 21600)
    first, last = answer["points"]
    assert first["ts"] == "2026-10-30T06:00:00Z"
    assert first["cpu_avg"] == pytest.approx((360 * 20 + 120 * 60) / 480)
    assert (first["cpu_max"], first["workers"]) == (90.0, 2)
    assert last["ts"] == "2026-11-29T06:00:00Z" and last["cpu_avg"] == 33.0


def test_old_hour_range_falls_back_to_minute_rollups(store):
    rollup(store, "worker_samples_minute", [(at(3 * 86400 + 3600), "w1", 6, 12.0, 13.0, 14.0, 15.0, 1.0)])
    raw(store, [(at(3 * 86400 + 3600), "w1", 99.0, 99.0, 9.0)])
    answer = ask(store, 3600, end_before_now=3 * 86400)
    assert answer["tier"] == "minute"
    assert [point["cpu_avg"] for point in answer["points"]] == [12.0]


def test_per_worker_and_hardware_breakdown(store):
    raw(store, [(at(1000), "w1", 10.0, 10.0, 1.0), (at(990), "w1", 30.0, 30.0, 1.0),
                (at(1000), "w2", 50.0, 70.0, 1.0)])
    finished(store, [("a", "completed", "w1", at(900)), ("b", "failed", "w1", at(800)),
                     ("c", "completed", "w2", at(700))])
    only_w2 = ask(store, 3600, worker="w2")
    assert [point["cpu_avg"] for point in only_w2["points"] if point["cpu_avg"] is not None] == [50.0]
    assert sum(point["completed"] for point in only_w2["points"]) == 1 and "hardware" not in only_w2
    breakdown = {row["type"]: row for row in ask(store, 3600)["hardware"]}
    assert breakdown["cuda"] == {"type": "cuda", "workers": 1, "cpu_avg": 20.0, "cpu_max": 30.0, "memory_avg": 20.0,
                                 "memory_max": 30.0, "completed": 1, "failed": 1, "success_rate": 50.0}
    assert breakdown["cpu"]["workers"] == 2 and breakdown["cpu"]["cpu_avg"] == pytest.approx(30.0)
    assert breakdown["cpu"]["success_rate"] == pytest.approx(66.7)
    cuda_only = ask(store, 3600, hardware="CUDA")
    assert [point["cpu_avg"] for point in cuda_only["points"] if point["workers"]] == [10.0, 30.0]
