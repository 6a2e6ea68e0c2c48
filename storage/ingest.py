"""Apply one validated batch of events: Arrow in, set-based SQL out (never row by row)."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from storage import results
from storage.health import refresh_workers_sql

TS = pa.timestamp("us")
LIST = pa.list_(pa.string())
FAILED_STATUSES = ("failed", "timed_out", "canceled")

ARROW_SCHEMAS = {
    "worker_register": pa.schema([("ts", TS), ("worker_id", pa.string()), ("hostname", pa.string()),
                                  ("hardware", LIST), ("capabilities", pa.string())]),
    "worker_heartbeat": pa.schema([("ts", TS), ("worker_id", pa.string()), ("cpu_percent", pa.float64()),
                                   ("memory_used_gb", pa.float64()), ("memory_total_gb", pa.float64()),
                                   ("memory_percent", pa.float64()), ("rtt_ms", pa.float64()),
                                   ("running_tasks", pa.int32()), ("gpus", pa.string())]),
    "worker_offline": pa.schema([("ts", TS), ("worker_id", pa.string())]),
    "task": pa.schema([("ts", TS), ("task_id", pa.string()), ("kind", pa.string()), ("type", pa.string()),
                       ("priority", pa.int32()), ("requirements", LIST), ("worker_id", pa.string()),
                       ("status", pa.string()), ("error", pa.string()), ("duration_s", pa.float64())]),
    "link": pa.schema([("ts", TS), ("source", pa.string()), ("target", pa.string()),
                       ("rtt_ms", pa.float64()), ("bandwidth_bps", pa.float64())]),
} | results.ARROW_SCHEMAS

UPSERT_REGISTERED = """
INSERT INTO workers (worker_id, hostname, hardware, capabilities, registered_at, last_seen)
SELECT worker_id, arg_max(hostname, ts), arg_max(hardware, ts), arg_max(capabilities, ts), min(ts), max(ts)
FROM ev_register GROUP BY worker_id
ON CONFLICT (worker_id) DO UPDATE SET
  hostname = coalesce(excluded.hostname, workers.hostname),
  hardware = coalesce(excluded.hardware, workers.hardware),
  capabilities = coalesce(excluded.capabilities, workers.capabilities),
  registered_at = least(workers.registered_at, excluded.registered_at),
  last_seen = greatest(workers.last_seen, excluded.last_seen)"""

# Samples are appended as they come; the workers' current state is folded in per tick
# (fold_heartbeats), since a per-batch upsert costs ~10x the append.
INSERT_SAMPLES = "INSERT INTO worker_samples SELECT * FROM ev_heartbeat"

# EWMA of heartbeat gaps gives link regularity without scanning history on every tick.
UPSERT_HEARTBEAT = """
INSERT INTO workers (worker_id, hardware, registered_at, last_seen, last_heartbeat, cpu_percent, memory_used_gb,
  memory_total_gb, memory_percent, gpus, rtt_ms, running_tasks)
SELECT worker_id, []::VARCHAR[], min(ts), max(ts), max(ts), arg_max(cpu_percent, ts), arg_max(memory_used_gb, ts),
  arg_max(memory_total_gb, ts), arg_max(memory_percent, ts), arg_max(gpus, ts), arg_max(rtt_ms, ts),
  arg_max(running_tasks, ts)
FROM ev_heartbeat GROUP BY worker_id
ON CONFLICT (worker_id) DO UPDATE SET
  {values},
  hb_gap_avg = CASE WHEN {not_newer} THEN workers.hb_gap_avg
    WHEN workers.hb_gap_avg IS NULL THEN {gap} ELSE 0.8 * workers.hb_gap_avg + 0.2 * {gap} END,
  hb_gap_dev = CASE WHEN {not_newer} OR workers.hb_gap_avg IS NULL THEN coalesce(workers.hb_gap_dev, 0)
    ELSE 0.8 * coalesce(workers.hb_gap_dev, 0) + 0.2 * abs({gap} - workers.hb_gap_avg) END,
  last_seen = greatest(workers.last_seen, excluded.last_seen),
  last_heartbeat = greatest(workers.last_heartbeat, excluded.last_heartbeat)"""
# Only a newer heartbeat replaces the values; other events move last_seen but not these.
_NOT_NEWER = "workers.last_heartbeat IS NULL OR excluded.last_heartbeat <= workers.last_heartbeat"
_HEARTBEAT_VALUES = ("cpu_percent", "memory_used_gb", "memory_total_gb", "memory_percent", "gpus", "rtt_ms",
                     "running_tasks")
UPSERT_HEARTBEAT = UPSERT_HEARTBEAT.format(
    values=",\n  ".join(f"{c} = CASE WHEN workers.last_heartbeat > excluded.last_heartbeat THEN workers.{c} "
                        f"ELSE coalesce(excluded.{c}, workers.{c}) END" for c in _HEARTBEAT_VALUES),
    not_newer=_NOT_NEWER, gap="epoch(excluded.last_heartbeat - workers.last_heartbeat)")

UPSERT_OFFLINE = """
INSERT INTO workers (worker_id, hardware, registered_at, last_seen, offline_at)
SELECT worker_id, []::VARCHAR[], min(ts), min(ts), max(ts) FROM ev_offline GROUP BY worker_id
ON CONFLICT (worker_id) DO UPDATE SET offline_at = greatest(workers.offline_at, excluded.offline_at)"""

INSERT_TASK_EVENTS = """
INSERT INTO task_events SELECT e.ts, e.task_id, e.kind, e.worker_id, e.status, e.error
FROM ev_task e ANTI JOIN (
  SELECT ts, task_id, kind FROM task_events
  WHERE ts BETWEEN (SELECT min(ts) FROM ev_task) AND (SELECT max(ts) FROM ev_task)
) seen ON seen.ts = e.ts AND seen.task_id = e.task_id AND seen.kind = e.kind"""

WORKERS_FROM_TASKS = """
INSERT INTO workers (worker_id, hardware, registered_at, last_seen)
SELECT worker_id, []::VARCHAR[], min(ts), max(ts) FROM ev_task WHERE worker_id IS NOT NULL GROUP BY worker_id
ON CONFLICT (worker_id) DO NOTHING"""

TASK_ROWS = """SELECT task_id,
  arg_min(type, ts) FILTER (kind = 'task_submitted') AS type,
  CASE WHEN count(*) FILTER (kind = 'task_finished') > 0 THEN arg_min(status, ts) FILTER (kind = 'task_finished')
       WHEN count(*) FILTER (kind = 'task_started') > 0 THEN 'running' ELSE 'pending' END AS status,
  arg_min(priority, ts) FILTER (kind = 'task_submitted') AS priority,
  arg_min(requirements, ts) FILTER (kind = 'task_submitted') AS requirements,
  coalesce(arg_min(worker_id, ts) FILTER (kind = 'task_finished' AND worker_id IS NOT NULL),
           arg_max(worker_id, ts) FILTER (kind = 'task_started')) AS worker_id,
  min(ts) FILTER (kind = 'task_submitted') AS submitted_at,
  max(ts) FILTER (kind = 'task_started') AS started_at,
  min(ts) FILTER (kind = 'task_finished') AS finished_at,
  arg_min(duration_s, ts) FILTER (kind = 'task_finished') AS duration_s,
  arg_min(error, ts) FILTER (kind = 'task_finished') AS error
FROM ev_task GROUP BY task_id"""

# The first finish wins, so a task finishing twice changes nothing the second time.
TASK_CHANGES = """
  type = coalesce(tasks.type, {new}.type),
  priority = coalesce(tasks.priority, {new}.priority),
  submitted_at = least(tasks.submitted_at, {new}.submitted_at),
  status = CASE WHEN tasks.finished_at IS NOT NULL THEN tasks.status
                WHEN {new}.finished_at IS NOT NULL THEN {new}.status
                WHEN {new}.started_at IS NOT NULL THEN 'running' ELSE tasks.status END,
  worker_id = CASE WHEN tasks.finished_at IS NOT NULL THEN tasks.worker_id
                   ELSE coalesce({new}.worker_id, tasks.worker_id) END,
  started_at = CASE WHEN tasks.finished_at IS NOT NULL THEN tasks.started_at
                    ELSE greatest(tasks.started_at, {new}.started_at) END,
  finished_at = coalesce(tasks.finished_at, {new}.finished_at),
  duration_s = CASE WHEN tasks.finished_at IS NOT NULL THEN tasks.duration_s ELSE {new}.duration_s END,
  error = CASE WHEN tasks.finished_at IS NOT NULL THEN tasks.error ELSE {new}.error END"""

UPSERT_TASKS = f"""INSERT INTO tasks {TASK_ROWS}
ON CONFLICT (task_id) DO UPDATE SET requirements = coalesce(tasks.requirements, excluded.requirements),{TASK_CHANGES.format(new="excluded")}"""

# Large batches update the tasks they know with a plain UPDATE of scalar columns, then insert the
# rest: the upsert rewrites whole rows (list column and key included) and took 13.6 s for 250,000
# tasks updated in a store of 1,000,000, these 0.6 s. Below ~2,500 tasks the upsert's index lookups
# win over these joins, which scan the tasks table (12 against 25 ms for 500 tasks).
UPDATE_THEN_INSERT_TASKS = [
    f"CREATE OR REPLACE TEMP TABLE task_rows AS {TASK_ROWS}",
    f"UPDATE tasks SET {TASK_CHANGES.format(new='e')}\nFROM task_rows e WHERE tasks.task_id = e.task_id",
    # only a submission that arrives after the task's other events fills this (few rows)
    """UPDATE tasks SET requirements = e.requirements FROM task_rows e
       WHERE tasks.task_id = e.task_id AND tasks.requirements IS NULL AND e.requirements IS NOT NULL""",
    "INSERT INTO tasks SELECT e.* FROM task_rows e ANTI JOIN tasks t ON t.task_id = e.task_id",
    "DROP TABLE task_rows",
]
LARGE_TASK_BATCH = 5_000  # task events; about where the two ways cost the same


def upsert_tasks(con: duckdb.DuckDBPyConnection, events: pa.Table) -> None:
    """Tasks brought up to a batch of their events, whichever way is cheaper for its size."""
    for statement in UPDATE_THEN_INSERT_TASKS if events.num_rows >= LARGE_TASK_BATCH else [UPSERT_TASKS]:
        con.execute(statement)

REFRESH_TASK_COUNTERS = """
UPDATE workers SET tasks_completed = c.completed, tasks_failed = c.failed, running_tasks = c.running
FROM (
  SELECT worker_id, count(*) FILTER (status = 'completed') AS completed,
    count(*) FILTER (status IN ('failed', 'timed_out', 'canceled')) AS failed,
    count(*) FILTER (status = 'running') AS running
  FROM tasks WHERE worker_id IN (SELECT DISTINCT worker_id FROM ev_task WHERE worker_id IS NOT NULL)
  GROUP BY worker_id
) c WHERE workers.worker_id = c.worker_id"""

INSERT_LINKS = "INSERT INTO link_samples SELECT ts, source, target, rtt_ms, bandwidth_bps FROM ev_link"

# Heartbeats and the worker side of task events reach `workers` per tick, not per batch: the
# upserts and recounts cost ~10x the appends, and readers fold before they read.
FOLDED = ("worker_heartbeat", "task")
FOLD_STEPS: list[tuple[str, str, list[str]]] = [
    ("worker_heartbeat", "ev_heartbeat", [UPSERT_HEARTBEAT]),
    ("task", "ev_task", [WORKERS_FROM_TASKS, REFRESH_TASK_COUNTERS]),
]

Step = str | Callable[[duckdb.DuckDBPyConnection, pa.Table], None]  # SQL, or a choice of SQL by the batch
STEPS: list[tuple[str, str, list[Step]]] = [
    ("worker_register", "ev_register", [UPSERT_REGISTERED]),
    ("worker_heartbeat", "ev_heartbeat", [INSERT_SAMPLES]),
    ("worker_offline", "ev_offline", [UPSERT_OFFLINE]),
    ("task", "ev_task", [INSERT_TASK_EVENTS, upsert_tasks]),
    ("link", "ev_link", [INSERT_LINKS]),
    *results.STEPS,
]


class ApplyEvents:
    """A write for the writer thread; neighbours in one commit merge into a single SQL pass."""

    def __init__(self, tables: dict[str, pa.Table], now_us: int, offline_after_s: float,
                 on_commit: Callable[[dict[str, pa.Table]], None] | None = None,
                 members: list[dict[str, int]] | None = None) -> None:
        self.tables, self.now_us, self.offline_after_s = tables, now_us, offline_after_s
        self.on_commit = on_commit  # receives the committed tables (the fold takes its share, see pending())
        self.members = members

    @classmethod
    def merge(cls, writes: list["ApplyEvents"]) -> "ApplyEvents":
        groups = {g for w in writes for g in w.tables}
        tables = {g: pa.concat_tables([w.tables[g] for w in writes if g in w.tables]) for g in groups}
        counts = [{g: t.num_rows for g, t in w.tables.items()} for w in writes]
        return cls(tables, max(w.now_us for w in writes), writes[0].offline_after_s, writes[0].on_commit, counts)

    def after_commit(self) -> None:
        if self.on_commit is not None:
            self.on_commit(self.tables)

    def __call__(self, con: duckdb.DuckDBPyConnection) -> dict[str, int] | list[dict[str, int]]:
        touched: list[pa.Array] = []
        for group, view, statements in STEPS:
            table = self.tables.get(group)
            if table is None:
                continue
            con.register(view, table)
            for statement in statements:
                if isinstance(statement, str):
                    con.execute(statement)
                else:
                    statement(con, table)
            con.unregister(view)
            if "worker_id" in table.column_names and group not in FOLDED:
                touched.append(table.column("worker_id").combine_chunks())
        _refresh_touched(con, touched, self.now_us, self.offline_after_s)
        return self.members or {group: t.num_rows for group, t in self.tables.items()}


def pending(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """What a committed batch leaves for the fold: its samples, and the workers its tasks touched."""
    out = {}
    if "worker_heartbeat" in tables:
        out["worker_heartbeat"] = tables["worker_heartbeat"]
    if "task" in tables:
        task = tables["task"].select(["ts", "worker_id"])
        out["task"] = task.filter(pc.is_valid(task.column("worker_id")))
    return {group: table for group, table in out.items() if table.num_rows}


def _refresh_touched(con: duckdb.DuckDBPyConnection, touched: list[pa.Array], now_us: int,
                     offline_after_s: float) -> None:
    if not touched:
        return
    ids = pa.table({"worker_id": pa.concat_arrays([a.cast(pa.string()) for a in touched])})
    con.register("touched_workers", ids)
    con.execute(refresh_workers_sql("worker_id IN (SELECT worker_id FROM touched_workers)"),
                {"now_us": now_us, "offline_after_s": offline_after_s})
    con.unregister("touched_workers")


def fold_pending(pending: dict[str, list[pa.Table]], now_us: int,
                 offline_after_s: float) -> Callable[[duckdb.DuckDBPyConnection], int]:
    """Fold what many batches left (see pending()) into the workers' current state in one pass."""

    def write(con: duckdb.DuckDBPyConnection) -> int:
        touched, folded = [], 0
        for group, view, statements in FOLD_STEPS:
            if not pending.get(group):
                continue
            table = pa.concat_tables(pending[group])
            con.register(view, table)
            for statement in statements:
                con.execute(statement)
            con.unregister(view)
            touched.append(table.column("worker_id").combine_chunks())
            folded += table.num_rows
        _refresh_touched(con, touched, now_us, offline_after_s)
        return folded

    return write


def unfolded(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """What a crash may have left unfolded: each worker's samples newer than its own last folded
    heartbeat (never another worker's clock), and every task worker (recounting all of them once
    at start is cheaper than tracking which)."""
    samples = con.sql("""SELECT s.* FROM worker_samples s LEFT JOIN workers w ON w.worker_id = s.worker_id
        WHERE w.last_heartbeat IS NULL OR s.ts > w.last_heartbeat""").to_arrow_table()
    task_workers = con.sql("""SELECT min(ts) AS ts, worker_id FROM task_events WHERE worker_id IS NOT NULL
        GROUP BY worker_id""").to_arrow_table()
    return {group: table for group, table in (("worker_heartbeat", samples), ("task", task_workers))
            if table.num_rows}
