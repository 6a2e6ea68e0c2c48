"""GET /api/export streams CSV/Parquet batch by batch with bounded memory (through a live server)."""

import io
import threading
import time
from datetime import datetime, timedelta

import httpx
import psutil
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from storage.export import BATCH_ROWS
from support import bearer

T0 = datetime(2026, 11, 1)
ROWS = 3_000_000


def seed_samples(store, rows):
    """rows samples, one per second from T0, 1,000 workers round robin (generated inside DuckDB)."""
    store.write_sync(lambda con: con.execute(
        """INSERT INTO worker_samples (ts, worker_id, cpu_percent)
           SELECT TIMESTAMP '2026-11-01' + to_seconds(i), 'worker-' || lpad((i % 1000)::VARCHAR, 4, '0'),
                  (i % 100)::DOUBLE FROM range($rows) t(i)""", {"rows": rows}))


def download(backend, path, params, keep=True):
    """(response, chunk count, bytes, newline count, body or b'', peak RSS growth of this process)."""
    process = psutil.Process()
    baseline = process.memory_info().rss
    chunks = size = lines = peak = 0
    body = io.BytesIO()
    with httpx.stream("GET", backend.url + path, params=params, headers=bearer(backend.user_token),
                      timeout=300) as response:
        assert response.status_code == 200, response.read()
        for chunk in response.iter_bytes():
            chunks, size, lines = chunks + 1, size + len(chunk), lines + chunk.count(b"\n")
            if keep:
                body.write(chunk)
            peak = max(peak, process.memory_info().rss - baseline)
    return response, chunks, size, lines, body.getvalue(), peak


@pytest.fixture
def seeded(live_backend):
    seed_samples(live_backend.server.config.app.state.store, ROWS)
    return live_backend


def test_csv_export_streams_a_large_table_with_bounded_memory(seeded):
    response, chunks, size, lines, _, peak = download(seeded, "/api/export/samples", {"format": "csv"}, keep=False)
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="samples.csv"' in response.headers["content-disposition"]
    assert lines == ROWS + 1  # header + one line per sample
    assert chunks >= ROWS // BATCH_ROWS
    # Server and client share this process: together they never hold more than a fraction of the file.
    assert peak < size / 2, (peak, size)


def test_parquet_export_has_one_row_group_per_batch_and_honours_range(seeded):
    start, end = T0 + timedelta(seconds=100), T0 + timedelta(seconds=250_100)
    _, _, _, _, body, _ = download(seeded, "/api/export/samples",
                                   {"format": "parquet", "start": start.isoformat(), "end": end.isoformat()})
    parquet = pq.ParquetFile(io.BytesIO(body))
    assert parquet.metadata.num_rows == 250_000
    groups = [parquet.metadata.row_group(i).num_rows for i in range(parquet.metadata.num_row_groups)]
    assert len(groups) >= 250_000 // BATCH_ROWS and max(groups) <= BATCH_ROWS
    first = parquet.read_row_group(0).slice(0, 1).to_pylist()[0]
    assert first["ts"] == start and first["cpu_percent"] == 0.0 and first["worker_id"] == "worker-0100"


def test_workers_and_tasks_export_lists(live_backend):
    live_backend.post_events([
        {"kind": "worker_register", "worker_id": "w1", "hostname": "h", "hardware": ["cpu", "cuda"]},
        {"kind": "task_submitted", "task_id": "t1", "type": "unit", "requirements": ["cuda"]}])
    workers = download(live_backend, "/api/export/workers", {"format": "csv"})[4]
    row = pa_csv.read_csv(io.BytesIO(workers)).to_pylist()[0]
    assert row["worker_id"] == "w1" and row["hardware"] == "cpu;cuda"
    tasks = download(live_backend, "/api/export/tasks", {"format": "parquet"})[4]
    assert pq.read_table(io.BytesIO(tasks)).to_pylist()[0]["requirements"] == ["cuda"]


def test_export_validates_its_parameters(client):
    user = bearer(client.user_token)
    assert client.get("/api/export/users", headers=user).status_code == 400
    assert client.get("/api/export/tasks?format=xlsx", headers=user).status_code == 400
    assert client.get("/api/export/tasks?start=2026-11-02&end=2026-11-01", headers=user).status_code == 400
    assert client.get("/api/export/tasks").status_code == 401


def test_client_leaving_mid_export_ends_the_producer(seeded):
    with httpx.stream("GET", seeded.url + "/api/export/samples", params={"format": "csv"},
                      headers=bearer(seeded.user_token), timeout=60) as response:
        first = next(response.iter_bytes())
    assert first.startswith(b'"ts","worker_id"')
    deadline = time.monotonic() + 60
    while any(thread.name == "export" for thread in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(thread.name == "export" for thread in threading.enumerate())
    answer = httpx.post(seeded.url + "/api/sql", json={"sql": "SELECT count(*) FROM worker_samples"},
                        headers=bearer(seeded.admin_token), timeout=60).json()
    assert answer["rows"] == [[ROWS]]
