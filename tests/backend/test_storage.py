"""Storage on a real DuckDB file: writer, group commit, rollups, retention, reopen."""

import asyncio
import json
import threading
import time

import duckdb
import pytest

from backend.ingest import BatchError, BodyWrite, IngestService, decode_batch
from backend.settings import Settings
from storage import rollup, timeseries
from storage.store import DatabaseLockedError, Store


@pytest.fixture
def store(tmp_path):
    opened = Store(str(tmp_path / "s.duckdb")).open()
    yield opened
    opened.close()


def ingest(store, events, settings=None):
    """Ingest and fold, as the server does before any read of current state."""
    service = IngestService(store, settings or Settings())
    batch = decode_batch(json.dumps({"events": events}).encode())

    async def run():
        accepted = await service.ingest(batch)
        await service.fold()
        return accepted
    return asyncio.run(run())


def test_round_trip_survives_reopen(tmp_path):
    path = str(tmp_path / "s.duckdb")
    store = Store(path).open()
    ingest(store, [{"kind": "worker_register", "worker_id": "w1", "hostname": "h", "hardware": ["CPU", "WebGPU", "npu-x"]}])
    store.close()
    reopened = Store(path).open()
    row = reopened.read_sync(lambda c: c.execute("SELECT hostname, hardware FROM workers").fetchone())
    reopened.close()
    assert row == ("h", ["cpu", "npu-x", "webgpu"])  # lower-cased, unknown names kept


def test_failing_write_does_not_sink_its_group(store):
    def good(n):
        return lambda con: con.execute("INSERT INTO link_samples VALUES (now()::TIMESTAMP, $s, 'x', 1, 1)", {"s": n})

    def bad(con):
        con.execute("INSERT INTO no_such_table VALUES (1)")

    futures = [store.submit(good("a")), store.submit(bad), store.submit(good("b"))]
    assert futures[0].result() is not None and futures[2].result() is not None
    with pytest.raises(duckdb.CatalogException):
        futures[1].result()
    assert store.read_sync(lambda c: c.execute("SELECT count(*) FROM link_samples").fetchone()[0]) == 2


def body_writes(*batches):
    return [BodyWrite([(json.dumps({"events": events}).encode(), time.time())], 15.0, lambda samples: None)
            for events in batches]


BATCHES = ([{"kind": "worker_register", "worker_id": "a"}],
           [{"kind": "worker_register", "worker_id": "b"}, {"kind": "worker_heartbeat", "worker_id": "b", "cpu_percent": 300}],
           [{"kind": "worker_register", "worker_id": "c"}])


def registered(store):
    return store.read_sync(lambda c: c.execute("SELECT list(worker_id ORDER BY worker_id) FROM workers").fetchone()[0])


def test_a_rejected_body_fails_alone_in_a_merged_write(store):
    results = store.write_sync(BodyWrite.merge(body_writes(*BATCHES)))
    assert [type(result).__name__ for result in results] == ["Accepted", "BatchError", "Accepted"]
    assert results[1].extra() == {"index": 1, "field": "cpu_percent"} and results[2].counts == {"worker_register": 1}
    assert registered(store) == ["a", "c"]


def test_merged_bodies_keep_their_own_receive_times_and_a_bad_ts_fails_its_body_alone(store):
    bodies = [[{"kind": "worker_heartbeat", "worker_id": "a"}, {"kind": "worker_heartbeat", "worker_id": "b"}],
              [{"kind": "worker_heartbeat", "worker_id": "c", "ts": 1.0e12}],
              [{"kind": "worker_heartbeat", "worker_id": "d"}]]
    writes = [BodyWrite([(json.dumps({"events": events}).encode(), received)], 15.0, lambda tables: None)
              for events, received in zip(bodies, (1_790_000_000.0, 1_790_000_001.0, 1_790_000_002.0))]
    results = store.write_sync(BodyWrite.merge(writes))
    assert [type(result).__name__ for result in results] == ["Accepted", "BatchError", "Accepted"]
    assert results[1].extra() == {"index": 0, "field": "ts"}
    stamps = store.read_sync(lambda c: c.execute(
        "SELECT list(epoch_us(ts) ORDER BY worker_id) FROM worker_samples").fetchone()[0])
    assert stamps == [1_790_000_000_000_000, 1_790_000_000_000_001, 1_790_000_002_000_000]


def test_a_rejected_body_fails_only_its_own_request(store):
    futures = [store.submit(write) for write in body_writes(*BATCHES)]
    assert futures[0].result().events == 1 and futures[2].result().events == 1
    with pytest.raises(BatchError):
        futures[1].result()
    assert registered(store) == ["a", "c"]


def test_concurrent_readers_and_writer(store):
    errors = []

    def reader():
        try:
            for _ in range(50):
                store.read_sync(lambda c: c.execute("SELECT count(*) FROM worker_samples").fetchone())
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):
        ingest(store, [{"kind": "worker_heartbeat", "worker_id": f"w{i}", "cpu_percent": i}])
    for t in threads:
        t.join()
    assert errors == []
    assert store.read_sync(lambda c: c.execute("SELECT count(*) FROM workers").fetchone()[0]) == 20


def test_second_process_is_told_who_holds_the_file(tmp_path):
    import subprocess
    import sys
    path = str(tmp_path / "s.duckdb")
    holder = Store(path).open()
    try:
        code = f"from storage.store import Store\nStore({path!r}).open()"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=".")
        assert result.returncode != 0
        assert "held by another process" in result.stderr
    finally:
        holder.close()
    assert DatabaseLockedError.__doc__


def test_rollups_give_exact_buckets_and_late_samples_reroll(store):
    base = 1_790_000_000 - 1_790_000_000 % 3600  # an hour boundary
    events = [{"kind": "worker_heartbeat", "worker_id": w, "cpu_percent": cpu, "memory_used_gb": 1,
               "memory_total_gb": 4, "ts": base + offset}
              for w, cpu, offset in [("a", 10, 5), ("a", 30, 35), ("b", 50, 65), ("b", 70, 3605)]]
    ingest(store, events)
    store.write_sync(rollup.rollup(base + 7200))
    minutes = store.read_sync(lambda c: c.execute(
        "SELECT epoch(bucket) - $b, worker_id, samples, cpu_avg, cpu_max FROM worker_samples_minute ORDER BY 1, 2",
        {"b": base}).fetchall())
    assert minutes == [(0, "a", 2, 20.0, 30.0), (60, "b", 1, 50.0, 50.0), (3600, "b", 1, 70.0, 70.0)]
    result = store.read_sync(lambda c: timeseries.resources(c, base, base + 7200, tier="hour"))
    assert [(p["cpu_avg"], p["cpu_max"], p["workers"]) for p in result["points"]] == [(30.0, 50.0, 2), (70.0, 70.0, 1)]
    ingest(store, [{"kind": "worker_heartbeat", "worker_id": "a", "cpu_percent": 90, "ts": base + 10}])
    store.write_sync(rollup.rollup(base + 7200, late_since=base + 10))
    first = store.read_sync(lambda c: c.execute(
        "SELECT samples, cpu_max FROM worker_samples_minute WHERE worker_id = 'a'").fetchone())
    assert first == (3, 90.0)


def test_retention_prunes_each_tier(store):
    now = time.time()
    old, recent = now - 3 * 86400, now - 60
    ingest(store, [{"kind": "worker_heartbeat", "worker_id": "a", "cpu_percent": 1, "ts": t} for t in (old, recent)])
    store.write_sync(rollup.rollup(now))
    deleted = store.write_sync(rollup.prune(now, raw_s=48 * 3600, minute_s=30 * 86400, hour_s=365 * 86400,
                                            task_s=30 * 86400))
    assert deleted["worker_samples"] == 1
    assert deleted["worker_samples_minute"] == 0
    assert store.read_sync(lambda c: c.execute("SELECT count(*) FROM worker_samples").fetchone()[0]) == 1


def test_retention_forgets_workers_silent_for_the_raw_window(store):
    now = time.time()
    ingest(store, [{"kind": "worker_heartbeat", "worker_id": "gone", "cpu_percent": 1, "ts": now - 3 * 86400},
                   {"kind": "worker_heartbeat", "worker_id": "here", "cpu_percent": 1, "ts": now - 60}])
    deleted = store.write_sync(rollup.prune(now, raw_s=48 * 3600, minute_s=30 * 86400, hour_s=365 * 86400,
                                            task_s=30 * 86400))
    assert deleted["workers"] == 1
    assert store.read_sync(lambda c: c.execute("SELECT worker_id FROM workers").fetchall()) == [("here",)]


def test_tier_choice_by_span():
    assert timeseries.choose_tier(3600) == ("raw", 30)
    assert timeseries.choose_tier(86400)[0] == "minute"
    assert timeseries.choose_tier(30 * 86400)[0] == "hour"


def test_small_ingest_writes_wait_the_window_to_share_a_commit(tmp_path, monkeypatch):
    monkeypatch.setattr("storage.store.QUIET_AFTER", 3.0)  # a busy machine may pause the test between submits
    store = Store(str(tmp_path / "w.duckdb"), commit_interval_ms=3000).open()
    try:
        small = [store.submit(write) for write in body_writes(BATCHES[0], BATCHES[2])]
        assert [future.result(timeout=60).events for future in small] == [1, 1]
        assert store.commits == 1 and registered(store) == ["a", "c"]
    finally:
        store.close()


def test_awaiting_writers_of_one_group_get_their_own_outcomes(tmp_path, monkeypatch):
    """Coroutines share a commit and its single hand-off to the loop; a bad body still fails alone."""
    monkeypatch.setattr("storage.store.QUIET_AFTER", 1.0)
    store = Store(str(tmp_path / "w.duckdb"), commit_interval_ms=1000).open()

    async def send_all() -> list:
        return await asyncio.gather(*(store.write(write) for write in body_writes(*BATCHES)), return_exceptions=True)

    try:
        results = asyncio.run(send_all())
        assert [type(result).__name__ for result in results] == ["Accepted", "BatchError", "Accepted"]
        assert store.commits == 1 and registered(store) == ["a", "c"]
    finally:
        store.close()


TASK_BATCHES = [
    [{"kind": "task_submitted", "task_id": "t1", "type": "test", "priority": 3, "requirements": ["cuda"], "ts": 100},
     {"kind": "task_started", "task_id": "t2", "worker_id": "w1", "ts": 101},
     {"kind": "task_submitted", "task_id": "t3", "ts": 102}, {"kind": "task_started", "task_id": "t3", "worker_id": "w1", "ts": 103},
     {"kind": "task_finished", "task_id": "t3", "worker_id": "w1", "status": "completed", "duration_s": 1.0, "ts": 104},
     {"kind": "task_finished", "task_id": "t4", "worker_id": "w2", "status": "failed", "error": "boom", "ts": 105}],
    [{"kind": "task_started", "task_id": "t1", "worker_id": "w2", "ts": 110},
     {"kind": "task_submitted", "task_id": "t2", "type": "late", "priority": 1, "requirements": ["rocm"], "ts": 99},
     {"kind": "task_finished", "task_id": "t3", "worker_id": "w2", "status": "failed", "error": "again", "ts": 111},
     {"kind": "task_finished", "task_id": "t4", "worker_id": "w1", "status": "completed", "ts": 90}],
    [{"kind": "task_finished", "task_id": "t1", "worker_id": "w2", "status": "timed_out", "duration_s": 3.0, "ts": 120},
     {"kind": "task_started", "task_id": "t2", "worker_id": "w3", "ts": 121},
     {"kind": "task_submitted", "task_id": "t5", "type": "test", "ts": 122}],
]


def task_rows_after(tmp_path, monkeypatch, large_from: int) -> list[tuple]:
    import storage.ingest
    monkeypatch.setattr(storage.ingest, "LARGE_TASK_BATCH", large_from)
    opened = Store(str(tmp_path / f"t{large_from}.duckdb")).open()
    try:
        for batch in TASK_BATCHES:
            ingest(opened, batch)
        return opened.read_sync(lambda cur: cur.execute(
            "SELECT task_id, type, status, priority, requirements, worker_id, epoch(submitted_at), epoch(started_at), "
            "epoch(finished_at), duration_s, error FROM tasks ORDER BY task_id").fetchall())
    finally:
        opened.close()


def test_task_batches_of_any_size_give_the_same_tasks(tmp_path, monkeypatch):
    """Large batches take another SQL path than small ones (cheaper for their size); same answers."""
    small, large = (task_rows_after(tmp_path, monkeypatch, large_from) for large_from in (10**9, 0))
    assert large == small
    by_id = {row[0]: row for row in small}
    assert by_id["t1"][2:6] == ("timed_out", 3, ["cuda"], "w2")  # finished on the worker that ran it
    assert by_id["t2"][1:6] == ("late", "running", 1, ["rocm"], "w3")  # a late submission fills type and needs
    assert by_id["t3"][2] == "completed" and by_id["t3"][10] is None  # the first finish wins
    assert by_id["t4"][2] == "failed" and by_id["t4"][10] == "boom"
    assert by_id["t5"][2] == "pending"
