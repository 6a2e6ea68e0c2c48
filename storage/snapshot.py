"""Consistent copy of the live database for notebooks, streamed as framed Arrow batches.

No other process may open the live file, so the server reads every table inside one
read-only transaction (one consistent point in time) and streams it; the client rebuilds
a fresh DuckDB file from the frames. Frame: 1 type byte, 8-byte big-endian length, payload.
T = table header (JSON {"table": name}), B = Arrow IPC stream of one batch, E = end.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Iterator

import duckdb
import pyarrow as pa

from storage.sql_allowlist import DATA_TABLES

HEADER = struct.Struct(">cQ")
BATCH_ROWS = 50_000
MAGIC = b"DTMON-SNAPSHOT-1\n"


def _frame(kind: bytes, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def ipc_stream(data: pa.RecordBatch | pa.Table) -> bytes:
    """A batch or table as a self-contained Arrow IPC stream (schema included)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write(data)
    return sink.getvalue().to_pybytes()


def snapshot_tables(cursor: duckdb.DuckDBPyConnection) -> list[str]:
    """The data tables ad-hoc SQL may read (an allowlist: credentials and bookkeeping stay out)."""
    rows = cursor.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary ORDER BY table_name"
    ).fetchall()
    return [name for (name,) in rows if name in DATA_TABLES]


def snapshot_frames(cursor: duckdb.DuckDBPyConnection, batch_rows: int = BATCH_ROWS) -> Iterator[bytes]:
    """All tables, read in one read-only transaction, as frames."""
    cursor.execute("BEGIN TRANSACTION READ ONLY")
    try:
        yield MAGIC
        for table in snapshot_tables(cursor):
            yield _frame(b"T", json.dumps({"table": table}).encode())
            reader = cursor.sql(f'SELECT * FROM "{table}"').to_arrow_reader(batch_rows)
            yield _frame(b"B", ipc_stream(pa.RecordBatch.from_pylist([], schema=reader.schema)))
            for batch in reader:
                yield _frame(b"B", ipc_stream(batch))
        yield _frame(b"E", b"")
    finally:
        cursor.execute("ROLLBACK")


class FrameReader:
    """Turns arbitrary byte chunks back into (kind, payload) frames."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.seen_magic = False

    def feed(self, chunk: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Frames completed by this chunk."""
        self.buffer += chunk
        if not self.seen_magic:
            if len(self.buffer) < len(MAGIC):
                return
            if bytes(self.buffer[: len(MAGIC)]) != MAGIC:
                raise ValueError("not a snapshot stream (is the URL the dtmon backend?)")
            del self.buffer[: len(MAGIC)]
            self.seen_magic = True
        while len(self.buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < HEADER.size + length:
                return
            payload = bytes(self.buffer[HEADER.size: HEADER.size + length])
            del self.buffer[: HEADER.size + length]
            yield kind, payload


def write_snapshot(chunks: Iterable[bytes], out_path: str) -> dict[str, int]:
    """Build a new DuckDB file at out_path from a frame stream; returns rows per table."""
    partial = out_path + ".partial"
    if os.path.exists(partial):
        os.remove(partial)
    counts: dict[str, int] = {}
    complete = False
    with duckdb.connect(partial) as con:
        table, reader = None, FrameReader()
        for chunk in chunks:
            for kind, payload in reader.feed(chunk):
                if kind == b"T":
                    table = json.loads(payload)["table"]
                elif kind == b"B":
                    counts[table] = counts.get(table, 0) + _load_batch(con, table, payload, table not in counts)
                elif kind == b"E":
                    complete = True
    if not complete:
        os.remove(partial)
        raise ValueError("snapshot stream ended early; nothing was written")
    os.replace(partial, out_path)
    return counts


def _load_batch(con: duckdb.DuckDBPyConnection, table: str, payload: bytes, first: bool) -> int:
    """Create the table from the first (empty) batch, append the others; returns rows added."""
    arrow_batch = pa.ipc.open_stream(payload).read_all()
    quoted = '"' + table.replace('"', '""') + '"'
    con.register("incoming_batch", arrow_batch)
    try:
        if first:
            con.execute(f"CREATE TABLE {quoted} AS SELECT * FROM incoming_batch")
        else:
            con.execute(f"INSERT INTO {quoted} SELECT * FROM incoming_batch")
    finally:
        con.unregister("incoming_batch")
    return arrow_batch.num_rows
