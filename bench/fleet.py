"""FLEET SIMULATOR (benchmarks only): synthetic heartbeats and tasks for load tests.

Nothing here is used by the product; its numbers are deterministic functions of the indices so
runs are repeatable. The dashboard never shows this data unless a benchmark sends it.
"""

from __future__ import annotations

import time

HARDWARE = [["cpu"], ["cpu", "cuda"], ["cpu", "rocm"], ["cpu", "openvino"], ["cpu", "cuda", "webgpu"], ["cpu", "qnn"]]


def worker_id(i: int) -> str:
    return f"sim-{i:05d}"


def heartbeat(i: int, step: int, ts: float | None = None) -> dict:
    event = {"kind": "worker_heartbeat", "worker_id": worker_id(i), "cpu_percent": float((i * 7 + step * 13) % 100),
             "memory_used_gb": float(4 + (i + step) % 28), "memory_total_gb": 32.0, "rtt_ms": 0.5 + (i % 40) / 10,
             "running_tasks": (i + step) % 3}
    if ts is not None:
        event["ts"] = ts
    return event


def heartbeat_batches(workers: int, batch_size: int, count: int) -> list[list[dict]]:
    """`count` batches cycling through the fleet, each heartbeat one step later than the last."""
    now = time.time()
    batches, n = [], 0
    for _ in range(count):
        batch = []
        for _ in range(batch_size):
            batch.append(heartbeat(n % workers, n // workers, now + n * 1e-4))
            n += 1
        batches.append(batch)
    return batches


def registrations(workers: int) -> list[dict]:
    return [{"kind": "worker_register", "worker_id": worker_id(i), "hostname": f"sim-host-{i:05d}",
             "hardware": HARDWARE[i % len(HARDWARE)]} for i in range(workers)]


def task_events(tasks: int, workers: int, now: float) -> list[dict]:
    """Submitted/started/finished events; every 9th task fails, every 50th is still running."""
    events = []
    for i in range(tasks):
        task, worker, ts = f"sim-task-{i:07d}", worker_id(i % workers), now - (tasks - i) * 0.01
        events.append({"kind": "task_submitted", "task_id": task, "type": "benchmark" if i % 5 == 0 else "test",
                       "priority": i % 10, "ts": ts})
        events.append({"kind": "task_started", "task_id": task, "worker_id": worker, "ts": ts + 0.001})
        if i % 50:
            failed = i % 9 == 0
            events.append({"kind": "task_finished", "task_id": task, "worker_id": worker,
                           "status": "failed" if failed else "completed", "duration_s": (i % 30) / 3,
                           "error": f"AssertionError: case {i}" if failed else None, "ts": ts + 0.002})
    return events


def task_table(tasks: int, workers: int, now: float, first: int = 0, count: int | None = None) -> "pa.Table":
    """task_events() of tasks [first, first + count) as one Arrow table in storage.ingest's task schema,
    built with numpy (a seed of millions of events in seconds rather than minutes of JSON). Each task's
    events stay in one table, so applying it inserts tasks rather than updating them (far cheaper)."""
    import numpy as np
    import pyarrow as pa

    from storage.ingest import ARROW_SCHEMAS

    i = np.arange(first, min(tasks, first + (tasks if count is None else count)))
    ends = i % 50 != 0  # every 50th task is still running
    finished = i[ends]
    failed = finished % 9 == 0
    base = now - (tasks - i) * 0.01
    task_ids = np.char.add("sim-task-", np.char.zfill(i.astype(str), 7))
    worker_ids = np.char.add("sim-", np.char.zfill((i % workers).astype(str), 5))
    n_sub, n_start, n_fin = len(i), len(i), len(finished)
    status = np.full(n_fin, "completed", dtype=object)
    status[failed] = "failed"
    error = np.full(n_fin, None, dtype=object)
    error[failed] = np.char.add("AssertionError: case ", finished[failed].astype(str))
    columns = {
        "ts": np.concatenate([base, base + 0.001, base[ends] + 0.002]),
        "task_id": np.concatenate([task_ids, task_ids, task_ids[ends]]),
        "kind": ["task_submitted"] * n_sub + ["task_started"] * n_start + ["task_finished"] * n_fin,
        "type": np.concatenate([np.where(i % 5 == 0, "benchmark", "test"), np.full(n_start + n_fin, None)]),
        "priority": np.concatenate([(i % 10).astype(object), np.full(n_start + n_fin, None)]),
        "requirements": [None] * (n_sub + n_start + n_fin),
        "worker_id": np.concatenate([np.full(n_sub, None), worker_ids, worker_ids[ends]]),
        "status": np.concatenate([np.full(n_sub + n_start, None), status]),
        "error": np.concatenate([np.full(n_sub + n_start, None), error]),
        "duration_s": np.concatenate([np.full(n_sub + n_start, np.nan), (finished % 30) / 3]),
    }
    return _table("task", columns, ARROW_SCHEMAS)


def sample_history(con, workers: int, since: float, until: float, every: float = 5.0) -> int:
    """Each worker's heartbeats every `every` seconds over [since, until), written straight into
    worker_samples with one SQL statement (an hour of 10,000 workers is 7.2 M rows); returns the count."""
    count = int((until - since) / every) * workers
    con.execute("""INSERT INTO worker_samples (ts, worker_id, cpu_percent, memory_used_gb, memory_total_gb,
        memory_percent, rtt_ms, running_tasks)
      SELECT make_timestamp(CAST(($since + (i // $workers) * $every) * 1e6 AS BIGINT)),
        'sim-' || lpad(CAST(i % $workers AS VARCHAR), 5, '0'), CAST((i * 7) % 100 AS DOUBLE),
        CAST(4 + i % 28 AS DOUBLE), 32.0, (4 + i % 28) * 100 / 32.0, 0.5 + (i % 40) / 10, CAST(i % 3 AS INTEGER)
      FROM range($count) t(i)""", {"since": since, "workers": workers, "every": every, "count": count})
    return count


def fleet_tables(workers: int, steps: int, now: float) -> dict[str, "pa.Table"]:
    """registrations() and `steps` heartbeats per worker a minute apart, the last at `now`, as Arrow tables."""
    import numpy as np

    from storage.ingest import ARROW_SCHEMAS

    events = [{"ts": now, **event} for event in registrations(workers)]
    register = {name: [event.get(name) for event in events] for name in ARROW_SCHEMAS["worker_register"].names}
    register["capabilities"] = ["{}"] * workers
    beats = [heartbeat(i, step, now - 60 * (steps - 1 - step)) for step in range(steps) for i in range(workers)]
    samples = {name: [event.get(name) for event in beats] for name in ARROW_SCHEMAS["worker_heartbeat"].names}
    samples["memory_percent"] = list(np.array(samples["memory_used_gb"]) * 100 / np.array(samples["memory_total_gb"]))
    return {"worker_register": _table("worker_register", register, ARROW_SCHEMAS),
            "worker_heartbeat": _table("worker_heartbeat", samples, ARROW_SCHEMAS)}


def _table(group: str, columns: dict, schemas: dict) -> "pa.Table":
    import numpy as np
    import pyarrow as pa

    schema = schemas[group]
    ts = (np.rint(np.asarray(columns["ts"], dtype=np.float64) * 1e6).astype(np.int64)).view("datetime64[us]")
    arrays = [pa.array(ts, type=field.type) if field.name == "ts" else
              pa.array(columns[field.name], type=field.type, from_pandas=True) for field in schema]
    return pa.Table.from_arrays(arrays, schema=schema)
