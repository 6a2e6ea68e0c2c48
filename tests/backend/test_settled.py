"""What the live views keep of the settled past: same answers as a full scan, late samples included."""

import time

import pytest
from litestar.testing import TestClient

from backend.app import create_app
from storage import timeseries
from storage.settled import SettledHistory
from storage.store import Store
from support import attach_tokens, bearer, make_settings

INSERT = """INSERT INTO worker_samples (ts, worker_id, cpu_percent, memory_used_gb, memory_total_gb, memory_percent)
SELECT make_timestamp(CAST(($from + i * 7.3) * 1e6 AS BIGINT)), 'w' || (i % 5), (i * 37) % 100, 4.0, 16.0, (i * 11) % 100
FROM range($count) t(i)"""


def _points(answer: dict) -> list[tuple]:
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in p.values()) for p in answer["points"]]


@pytest.fixture()
def store(tmp_path):
    store = Store(str(tmp_path / "chart.duckdb")).open()
    now = time.time()
    store.write_sync(lambda con: con.execute(INSERT, {"from": now - 4200, "count": 4200 // 7}))
    yield store
    store.close()


def test_kept_buckets_give_the_full_scans_answer_and_late_samples_unsettle_them(store):
    settled, now = SettledHistory(), time.time()
    first = store.read_sync(lambda cur: settled.resources(cur, now - 3600, now))
    assert _points(first) == _points(store.read_sync(lambda cur: timeseries.resources(cur, now - 3600, now)))

    late_ts = now - 1800
    store.write_sync(lambda con: con.execute(INSERT, {"from": late_ts, "count": 1}))
    later = time.time()
    kept = store.read_sync(lambda cur: settled.resources(cur, later - 3600, later))
    full = store.read_sync(lambda cur: timeseries.resources(cur, later - 3600, later))
    assert _points(kept) != _points(full)  # the settled bucket is kept: nobody said a sample came late

    settled.late(late_ts)  # what the ingest service says as such a sample commits
    again = store.read_sync(lambda cur: settled.resources(cur, later - 3600, later))
    assert _points(again) == _points(full)


def test_a_late_heartbeat_shows_on_the_chart_at_once(tmp_path):
    with TestClient(create_app(make_settings(tmp_path))) as client:
        attach_tokens(client, client)
        now = time.time()
        beats = [{"kind": "worker_heartbeat", "worker_id": "w1", "cpu_percent": 10.0, "ts": now - ago} for ago in (900, 600)]
        client.post("/api/ingest", json={"events": beats}, headers=bearer(client.ingest_token))
        before = client.get("/api/monitoring/resources", headers=bearer(client.user_token)).json()["points"]
        late = [{"kind": "worker_heartbeat", "worker_id": "w2", "cpu_percent": 90.0, "ts": now - 900}]
        client.post("/api/ingest", json={"events": late}, headers=bearer(client.ingest_token))
        after = client.get("/api/monitoring/resources", headers=bearer(client.user_token)).json()["points"]
        assert [p["cpu_max"] for p in before] == [10.0, 10.0]
        assert [p["cpu_max"] for p in after] == [90.0, 10.0] and after[0]["workers"] == 2


def test_the_trends_past_is_kept_for_a_minute_unless_a_late_sample_lands():
    settled, scans = SettledHistory(), []

    def scan():
        scans.append(1)
        return {"online": len(scans)}

    now = time.time()
    assert settled.workers_at(now - 3600, scan) == {"online": 1}
    assert settled.workers_at(now - 3600 + 59, scan) == {"online": 1}  # within a minute: kept
    assert settled.workers_at(now - 3600 + 61, scan) == {"online": 2}  # too far from what was kept
    settled.late(now - 3000)
    assert settled.workers_at(now - 3600 + 61, scan) == {"online": 3}  # a late sample may change it
