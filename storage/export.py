"""Streamed CSV/Parquet export: record batches out of DuckDB, bytes out per batch, never the whole file."""

from __future__ import annotations

import asyncio
import io
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from storage.queries import ts

BATCH_ROWS = 50_000
FORMULA_STARTS = "('=', '+', '-', '@', chr(9), chr(13))"
FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
# Dataset name -> (table, time column used by start/end).
DATASETS = {
    "workers": ("workers", "last_seen"),
    "tasks": ("tasks", "coalesce(submitted_at, started_at, finished_at)"),
    "samples": ("worker_samples", "ts"),
    "samples_minute": ("worker_samples_minute", "bucket"),
    "samples_hour": ("worker_samples_hour", "bucket"),
}


class _Sink(io.RawIOBase):
    """Write-only file that hands over what was written since the last drain."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        return len(chunk)

    def drain(self) -> bytes:
        """Bytes written since the previous drain."""
        data, self.parts = b"".join(self.parts), []
        return data


def _csv_columns(cursor: duckdb.DuckDBPyConnection, table: str) -> str:
    """CSV cannot hold lists or JSON: lists become ';'-joined text, JSON its text; all text is defused."""
    described = cursor.execute(f"DESCRIBE {table}").fetchall()
    columns = []
    for name, kind, *_ in described:
        if kind.endswith("[]"):
            columns.append(f"{_defused(f'array_to_string({name}, chr(59))')} AS {name}")
        elif kind == "JSON" or kind.startswith("STRUCT") or kind.startswith("MAP"):
            columns.append(f"{_defused(f'CAST({name} AS VARCHAR)')} AS {name}")
        elif kind == "VARCHAR":
            columns.append(f"{_defused(name)} AS {name}")
        else:
            columns.append(name)
    return ", ".join(columns)


def _defused(text: str) -> str:
    """Worker-supplied text starting like a formula (= + - @, tab, CR) gets a leading ' so a
    spreadsheet shows it instead of running it (OWASP's advice on CSV injection)."""
    return f"CASE WHEN left({text}, 1) IN {FORMULA_STARTS} THEN chr(39) || {text} ELSE {text} END"


def export_query(cursor: duckdb.DuckDBPyConnection, dataset: str, fmt: str,
                 start: float | None, end: float | None) -> tuple[str, dict[str, Any]]:
    """SQL and parameters selecting one dataset within [start, end)."""
    table, time_column = DATASETS[dataset]
    columns = _csv_columns(cursor, table) if fmt == "csv" else "*"
    conditions, params = [], {}
    if start is not None:
        conditions.append(f"{time_column} >= $start")
        params["start"] = ts(start)
    if end is not None:
        conditions.append(f"{time_column} < $end")
        params["end"] = ts(end)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    # No ORDER BY: sorting would hold the whole result in memory; rows come in insertion (time) order.
    return f"SELECT {columns} FROM {table} {where}", params


def encode_batches(reader: pa.RecordBatchReader, fmt: str) -> Iterator[bytes]:
    """CSV or Parquet bytes, one chunk per record batch (a Parquet row group each)."""
    sink = _Sink()
    writer = pa_csv.CSVWriter(sink, reader.schema) if fmt == "csv" else pq.ParquetWriter(sink, reader.schema)
    for batch in reader:
        writer.write_batch(batch)
        if chunk := sink.drain():
            yield chunk
    writer.close()
    if chunk := sink.drain():
        yield chunk


def export_chunks(cursor: duckdb.DuckDBPyConnection, dataset: str, fmt: str, start: float | None = None,
                  end: float | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[bytes]:
    """The whole export as a lazy sequence of byte chunks, read in batches from DuckDB."""
    sql, params = export_query(cursor, dataset, fmt, start, end)
    reader = cursor.sql(sql, params=params).to_arrow_reader(batch_rows)
    yield from encode_batches(reader, fmt)


async def stream_from_thread(produce: Callable[[], Iterator[bytes]], depth: int = 4) -> AsyncIterator[bytes]:
    """Run a blocking chunk producer on its own thread; at most `depth` chunks wait in memory."""
    chunks: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    thread = threading.Thread(target=_pump, args=(produce, chunks, stop), name="export", daemon=True)
    thread.start()
    try:
        while (item := await asyncio.to_thread(chunks.get)) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the client went away or we finished: let the producer end


async def started(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Wait for the first chunk before answering, so a failure to start is an error status, not
    a 200 with a truncated body."""
    first = await anext(chunks, b"")

    async def rest() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return rest()


def _pump(produce: Callable[[], Iterator[bytes]], chunks: queue.Queue, stop: threading.Event) -> None:
    """Producer side of stream_from_thread; gives up as soon as the consumer is gone."""
    source = produce()
    try:
        for chunk in source:
            if not _offer(chunks, chunk, stop):
                return
        _offer(chunks, None, stop)
    except Exception as error:  # handed to the consumer, which raises it
        _offer(chunks, error, stop)
    finally:
        source.close()  # on this thread: ends the cursor's transaction where it was opened
        try:
            chunks.put_nowait(None)  # wakes a consumer thread still waiting in get()
        except queue.Full:
            pass


def _offer(chunks: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put with back-pressure; False when the consumer has stopped listening."""
    while not stop.is_set():
        try:
            chunks.put(item, timeout=0.5)
            return True
        except queue.Full:
            continue
    return False


def store_producer(store: Any, dataset: str, fmt: str, start: float | None, end: float | None,
                   batch_rows: int = BATCH_ROWS) -> Callable[[], Iterator[bytes]]:
    """A producer for stream_from_thread that opens its cursor on the producer thread itself."""
    def produce() -> Iterator[bytes]:
        cursor = store.cursor()
        try:
            yield from export_chunks(cursor, dataset, fmt, start, end, batch_rows)
        finally:
            cursor.close()

    return produce
