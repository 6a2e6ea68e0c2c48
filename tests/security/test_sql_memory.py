"""Ad-hoc SQL never costs ingest: a write short of memory interrupts the query and still commits."""

import asyncio
import threading

import duckdb
import pytest

from storage.sandbox import run_select
from storage.store import ReadPreempted, Store
from support import bearer, make_settings


@pytest.fixture
def store(tmp_path):
    opened = Store(str(tmp_path / "m.duckdb")).open()
    yield opened
    opened.close()


class ShortOfMemoryOnce:
    """A real write whose first attempt meets DuckDB's out-of-memory error, as under a memory-hungry query."""

    def __init__(self) -> None:
        self.attempts = 0

    def __call__(self, con):
        self.attempts += 1
        if self.attempts == 1:
            raise duckdb.OutOfMemoryException("could not allocate block")
        con.execute("INSERT INTO workers (worker_id) VALUES ('after-retry')")
        return self.attempts


def test_a_write_short_of_memory_interrupts_ad_hoc_sql_and_commits(store):
    outcome = {}

    def long_query():
        async def run():
            return await store.read_expendable(lambda cur: run_select(cur, "SELECT count(*) FROM range(1000000000000) a, range(10) b",
                                                                      timeout_s=60))
        try:
            outcome["result"] = asyncio.run(run())
        except Exception as error:
            outcome["error"] = error

    reader = threading.Thread(target=long_query)
    reader.start()
    while not store._expendable:  # the query is running
        threading.Event().wait(0.01)
    assert store.write_sync(ShortOfMemoryOnce()) == 2
    reader.join(30)
    assert isinstance(outcome.get("error"), ReadPreempted), outcome
    assert store.read_sync(lambda cur: cur.execute("SELECT count(*) FROM workers").fetchone()[0]) == 1


def test_sql_at_the_memory_limit_leaves_ingest_untouched(tmp_path):
    from litestar.testing import TestClient

    from backend.app import create_app
    from support import attach_tokens

    settings = make_settings(tmp_path, duckdb_memory_limit="64MB", sql_timeout=30)
    with TestClient(create_app(settings)) as client:
        attach_tokens(client, client)
        answer = {}
        hog = threading.Thread(target=lambda: answer.update(response=client.post("/api/sql", json={
            "sql": "SELECT list(range::VARCHAR || 'abcdefghijklmnopqrstuvwxyz') FROM range(30000000)"}, headers=bearer(client.admin_token))))
        hog.start()
        statuses = []
        while hog.is_alive() or not statuses:
            events = [{"kind": "task_submitted", "task_id": f"t{len(statuses)}-{i}"} for i in range(2000)]
            statuses.append(client.post("/api/ingest", json={"events": events},
                                        headers=bearer(client.ingest_token)).status_code)
        hog.join()
        assert answer["response"].status_code == 400 and "memory" in answer["response"].text.lower()
        assert set(statuses) == {200}
