"""Large bodies decoded in helper processes: the same answers, failures and commit promise as the writer's own path."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from backend.ingest import PREPARE_ABOVE, BatchError, IngestService
from backend.settings import Settings
from storage.store import Store

LARGE = 400  # heartbeats: a body above PREPARE_ABOVE (about 30 KB)


def body(events: list[dict]) -> bytes:
    return json.dumps({"events": events}).encode()


def heartbeats(count: int, prefix: str) -> list[dict]:
    return [{"kind": "worker_heartbeat", "worker_id": f"{prefix}{i}", "cpu_percent": 1.0} for i in range(count)]


async def ready_service(store: Store) -> IngestService:
    service = IngestService(store, Settings())
    service.helpers.start()
    while not service.helpers.ready:
        await asyncio.sleep(0.05)
    return service


def samples_by_worker_prefix(store: Store) -> dict[str, int]:
    return dict(store.read_sync(lambda cur: cur.execute(
        "SELECT rtrim(worker_id, '0123456789'), count(*) FROM worker_samples GROUP BY 1").fetchall()))


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr("storage.store.QUIET_AFTER", 1.0)  # a small body waits long enough for the large one
    opened = Store(str(tmp_path / "h.duckdb"), commit_interval_ms=1000).open()
    yield opened
    opened.close()


def test_a_large_and_a_small_body_share_one_commit(store):
    async def run():
        service = await ready_service(store)
        sent = []
        helpers_run = service.helpers.run
        service.helpers.run = lambda fn, *args: sent.append(len(args[0])) or helpers_run(fn, *args)
        before = store.commits
        results = await asyncio.gather(service.ingest_body(body(heartbeats(LARGE, "big"))),
                                       service.ingest_body(body(heartbeats(1, "small"))))
        await service.helpers.close()
        return results, store.commits - before, sent

    results, commits, sent = asyncio.run(run())
    assert results == [(LARGE, None), (1, None)] and commits == 1
    assert len(sent) == 1 and sent[0] > PREPARE_ABOVE  # only the large body went to a helper
    assert samples_by_worker_prefix(store) == {"big": LARGE, "small": 1}


def test_a_bad_large_body_fails_alone_naming_its_event_and_field(store):
    bad_value = heartbeats(LARGE, "bad")
    bad_value[150]["cpu_percent"] = "high"
    bad_ts = heartbeats(LARGE, "late")
    bad_ts[7]["ts"] = time.time() + 10 * 365 * 86400

    async def run():
        service = await ready_service(store)
        outcomes = await asyncio.gather(*(service.ingest_body(body(events)) for events in (
            heartbeats(LARGE, "good"), bad_value, bad_ts, heartbeats(1, "small"))), return_exceptions=True)
        await service.helpers.close()
        return outcomes, service.batches_rejected

    (good, value_error, ts_error, small), rejected = asyncio.run(run())
    assert (good, small, rejected) == ((LARGE, None), (1, None), 2)
    assert isinstance(value_error, BatchError) and (value_error.index, value_error.field) == (150, "cpu_percent")
    assert "events[150].cpu_percent" in value_error.detail
    assert isinstance(ts_error, BatchError) and (ts_error.index, ts_error.field) == (7, "ts")
    assert samples_by_worker_prefix(store) == {"good": LARGE, "small": 1}


def test_a_helper_that_dies_costs_no_body(store):
    async def run():
        service = await ready_service(store)
        for child in psutil.Process().children():
            if "backend.helper" in child.cmdline():
                child.kill()
        answers = [await service.ingest_body(body(heartbeats(LARGE, f"after{n}x"))) for n in range(3)]
        while not service.helpers.ready:  # restarted by the bodies that came meanwhile
            await asyncio.sleep(0.05)
        answers.append(await service.ingest_body(body(heartbeats(LARGE, "restarted"))))
        await service.helpers.close()
        return answers

    assert asyncio.run(run()) == [(LARGE, None)] * 4
    assert sum(samples_by_worker_prefix(store).values()) == 4 * LARGE


ACK_THEN_WAIT = """
import asyncio, json, sys, time
sys.path.insert(0, {root!r})
from tests.backend.test_ingest_helper import body, heartbeats, ready_service
from storage.store import Store

async def main():
    service = await ready_service(Store({db!r}).open())
    print(await service.ingest_body(body(heartbeats({large}, "acked"))), flush=True)
    time.sleep(60)  # killed here, with nothing closed or checkpointed

asyncio.run(main())
"""


def test_a_large_body_acknowledged_through_a_helper_survives_kill_9(tmp_path):
    db = str(tmp_path / "k.duckdb")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    program = ACK_THEN_WAIT.format(root=root, db=db, large=LARGE)
    process = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == f"({LARGE}, None)"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    reopened = Store(db).open()
    try:
        assert samples_by_worker_prefix(reopened) == {"acked": LARGE}
    finally:
        reopened.close()
