"""The one DuckDB connection of the process: a single writer thread and per-thread read cursors."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from storage import schema

T = TypeVar("T")
Cursor = duckdb.DuckDBPyConnection
WriteFn = Callable[[Cursor], Any]
Waiter = Future | asyncio.Future  # sync callers block on the first, coroutines await the second
Outcome = tuple[Waiter, Any, BaseException | None]
log = logging.getLogger(__name__)
FULL_GROUP_BYTES = 64 * 1024  # about 400 one-heartbeat bodies, or part of one batch of 1,000 events
QUIET_AFTER = 0.001  # seconds without a new write that end the wait for more


class DatabaseLockedError(RuntimeError):
    """Another process holds the database file (DuckDB allows one writing process)."""


class ReadPreempted(RuntimeError):
    """An expendable read was interrupted because a write ran out of memory while it ran."""


def connect(path: str, memory_limit: str = "4GB", threads: int = 2) -> duckdb.DuckDBPyConnection:
    """Open the file with external access off, so user SQL can never reach the file system."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    config = {"enable_external_access": False, "memory_limit": memory_limit, "threads": threads}
    try:
        return duckdb.connect(path, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseLockedError(
                f"the database {path} is held by another process (a running server?): {exc}"
            ) from None
        raise


class Store:
    """Owns the connection; writes are serialised through one thread and group-committed."""

    def __init__(self, path: str, memory_limit: str = "4GB", threads: int = 2,
                 commit_interval_ms: float = 10.0) -> None:
        self.path = path
        self._memory_limit = memory_limit
        self._threads = threads
        self._commit_window = commit_interval_ms / 1000.0
        self._queue: queue.Queue[tuple[WriteFn, Waiter] | None] = queue.Queue()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._writer: threading.Thread | None = None
        self._guard = threading.Condition()  # the parent connection refuses concurrent calls
        self._readers = 0
        self._expendable: dict[duckdb.DuckDBPyConnection, bool] = {}  # cursor -> interrupted for a write
        self.commit_lock = threading.Lock()
        self.commits = 0

    def open(self) -> "Store":
        self._con = connect(self.path, self._memory_limit, self._threads)
        schema.migrate(self._con)
        self._writer = threading.Thread(target=self._write_loop, name="duckdb-writer", daemon=True)
        self._writer.start()
        return self

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None
        with self._guard:
            if self._con is None:
                return
            self._guard.wait_for(lambda: self._readers == 0, timeout=30)
            self._con.execute("CHECKPOINT")
            self._con.close()
            self._con = None

    @property
    def is_open(self) -> bool:
        return self._con is not None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for the calling thread only (connections must not cross threads)."""
        with self._guard:
            if self._con is None:
                raise RuntimeError("store is closed")
            return self._con.cursor()

    def read_sync(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        with self._guard:
            if self._con is None:
                raise RuntimeError("store is closed")
            cur = self._con.cursor()
            self._readers += 1
        try:
            return fn(cur)
        finally:
            cur.close()
            with self._guard:
                self._readers -= 1
                self._guard.notify_all()

    async def read(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run a read off the event loop."""
        return await asyncio.to_thread(self.read_sync, fn)

    async def read_expendable(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """A read (ad-hoc SQL) that a write short of memory may interrupt: acknowledged ingest comes first."""
        def run(cursor: duckdb.DuckDBPyConnection) -> T:
            with self._guard:
                self._expendable[cursor] = False
            try:
                return fn(cursor)
            except Exception as error:
                if self._expendable.get(cursor):
                    raise ReadPreempted("the query was stopped: it held memory that incoming data needed") from error
                raise
            finally:
                with self._guard:
                    self._expendable.pop(cursor, None)
                    self._guard.notify_all()

        return await self.read(run)

    def _preempt_expendable(self) -> None:
        """Interrupt expendable reads so the writer's retry finds the memory they held."""
        deadline = time.monotonic() + 5
        with self._guard:
            while self._expendable and time.monotonic() < deadline:
                for cursor in self._expendable:  # again and again: an interrupt between statements is lost
                    self._expendable[cursor] = True
                    cursor.interrupt()
                self._guard.wait(0.05)

    def submit(self, fn: WriteFn) -> Future:
        future: Future = Future()
        self._put(fn, future)
        return future

    def write_sync(self, fn: WriteFn) -> Any:
        return self.submit(fn).result()

    async def write(self, fn: WriteFn) -> Any:
        """Resolve only after the transaction holding fn has committed."""
        waiter = asyncio.get_running_loop().create_future()
        self._put(fn, waiter)
        return await waiter

    def _put(self, fn: WriteFn, waiter: Waiter) -> None:
        if self._writer is None:
            raise RuntimeError("store is closed")
        self._queue.put((fn, waiter))

    def _write_loop(self) -> None:
        con = self.cursor()
        while True:
            item = self._queue.get()
            if item is None:
                break
            group = [item] + self._gather_more(item[0])
            stop = any(entry is None for entry in group)
            _deliver(self._commit_group(con, [entry for entry in group if entry is not None]))
            if stop:
                break
        con.close()

    def _gather_more(self, first: WriteFn) -> list[tuple[WriteFn, Waiter] | None]:
        """Collect what arrives within the commit window so one commit serves many writers.

        A commit costs milliseconds of fixed work, which one-event requests must share, so a group of
        small writes waits for more: up to the window, but only while they keep coming (a closed
        loop of senders that all wait for this commit sends nothing more). A full group, or a write
        that declares no `size` (fold, rollup, accounts), commits with just what already queued.
        """
        group: list = []
        size = _size(first)
        now = time.monotonic()
        deadline = now + self._commit_window
        while True:
            remaining = min(deadline, now + QUIET_AFTER) - now if size < FULL_GROUP_BYTES else 0
            try:  # what is already queued joins at once, however short the window
                entry = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            group.append(entry)
            if entry is None:
                break
            size += _size(entry[0])
            now = time.monotonic()
        return group

    def _commit_group(self, con: duckdb.DuckDBPyConnection, group: list[tuple[WriteFn, Waiter]]) -> list[Outcome]:
        """Each waiter with its result or error, handed over only after the commit."""
        units = merge_writes([fn for fn, _ in group])
        try:
            results = self._run_in_transaction(con, [unit for unit, _ in units])
        except Exception as error:
            if isinstance(error, duckdb.OutOfMemoryException):
                self._preempt_expendable()
            # one bad write must not sink the others: retry each alone
            return [self._commit_one(con, fn, waiter) for fn, waiter in group]
        outcomes = []
        for (_, members), result in zip(units, results):
            shares = result if len(members) > 1 else [result]
            outcomes += [(group[index][1], share, None) for index, share in zip(members, shares)]
        return outcomes

    def _commit_one(self, con: duckdb.DuckDBPyConnection, fn: WriteFn, waiter: Waiter) -> Outcome:
        try:
            return waiter, self._run_in_transaction(con, [fn])[0], None
        except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
            return waiter, None, exc

    def _run_in_transaction(self, con: duckdb.DuckDBPyConnection, fns: list[WriteFn]) -> list[Any]:
        con.execute("BEGIN TRANSACTION")
        try:
            results = [fn(con) for fn in fns]
        except Exception:
            con.execute("ROLLBACK")
            raise
        with self.commit_lock:  # what a commit makes visible and its after_commit hooks go together
            con.execute("COMMIT")
            for fn in fns:
                getattr(fn, "after_commit", _nothing)()
        self.commits += 1
        return results


def _size(fn: WriteFn) -> int:
    """Bytes a write brings to its group; one without a `size` counts as a full group."""
    return getattr(fn, "size", FULL_GROUP_BYTES)


def _nothing() -> None:
    return None


def _deliver(outcomes: list[Outcome]) -> None:
    """Hand a commit group's outcomes over: one wake-up per event loop for the whole group, not one
    per request (each wake-up costs the loop a self-pipe write and a callback)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        waiter = outcome[0]
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append(outcome)
        else:
            _settle(*outcome)
    for loop, batch in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_all, batch)
        except RuntimeError:  # the loop closed: nobody is waiting any more
            pass


def _settle_all(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        _settle(*outcome)


def _settle(waiter: Waiter, result: Any = None, error: BaseException | None = None) -> None:
    """Hand the outcome over unless the waiter gave up (a cancelled request must not kill the writer)."""
    if waiter.done():
        return
    if isinstance(result, BaseException):  # a member of a merged write rejected on its own
        error = result
    if error is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(result)


def merge_writes(fns: list[WriteFn]) -> list[tuple[WriteFn, list[int]]]:
    """Combine neighbouring writes that know how (a `merge` classmethod): one SQL pass for many
    requests. A merged write returns one result per member; an exception returned as a member's
    result fails that member alone."""
    units: list[tuple[WriteFn, list[int]]] = []
    for index, fn in enumerate(fns):
        previous = units[-1] if units else None
        if previous is not None and hasattr(fn, "merge") and type(fn) is type(fns[previous[1][-1]]):
            previous[1].append(index)
        else:
            units.append((fn, [index]))
    return [(type(fns[m[0]]).merge([fns[i] for i in m]) if len(m) > 1 else fn, m) for fn, m in units]
