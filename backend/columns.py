"""Validated events to one Arrow table per storage group, built column by column.

Building per-event row tuples cost more than decoding, validating and committing together; one
list comprehension per column and vectorised timestamps keep Python's work per event small.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence

import msgspec
import numpy as np
import pyarrow as pa

from backend import schemas
from storage.ingest import ARROW_SCHEMAS, TS

LATEST_EPOCH = 32503680000  # year 3000: a ts past it is a unit mistake, not a time
MAX_NESTING = 32
F64 = pa.float64()
GROUP_OF = {schemas.WorkerHeartbeat: "worker_heartbeat", schemas.WorkerRegister: "worker_register",
            schemas.WorkerOffline: "worker_offline", schemas.TaskSubmitted: "task", schemas.TaskStarted: "task",
            schemas.TaskFinished: "task", schemas.Link: "link", schemas.CaseResult: "test_result",
            schemas.BenchmarkResult: "benchmark_result"}
ENCODE = msgspec.json.encode


class BadTimestamp(ValueError):
    """A field of one event that cannot be stored (a ts that is neither seconds since the epoch nor
    ISO 8601, or too far ahead; capabilities nested too deeply); carries the event's index."""

    def __init__(self, index: int, reason: str, field: str = "ts") -> None:
        super().__init__(reason)
        self.index, self.field = index, field


def _names(values: list[str]) -> list[str]:
    return sorted({value.lower() for value in values})


# Columns that are not a plain copy of the event field of the same name.
DERIVED: dict[str, Callable[[schemas.Event], object]] = {
    "kind": lambda event: event.__struct_config__.tag,
    "hardware": lambda event: event.hardware.lower() if isinstance(event.hardware, str) else _names(event.hardware),
    "requirements": lambda event: _names(event.requirements) if isinstance(event, schemas.TaskSubmitted) else None,
    "capabilities": lambda event: json.dumps(event.capabilities, default=str),
    "gpus": lambda event: ENCODE(event.gpus).decode() if event.gpus else None,
}


def default_times(received: float, count: int) -> np.ndarray:
    """The ts of events sent without one: the receive time, in batch order one microsecond apart."""
    return received + np.arange(count) * 1e-6


def tables_by_group(events: Sequence[schemas.Event], received: float | np.ndarray,
                    max_skew_s: float = math.inf) -> dict[str, pa.Table]:
    """Arrow tables in the column order of storage.ingest.ARROW_SCHEMAS; ts in microseconds.

    `received` is one batch's receive time, or each event's default ts when many bodies merge; a ts
    more than `max_skew_s` after it is refused.
    """
    defaults = default_times(received, len(events)) if isinstance(received, float) else received
    kinds = {type(event) for event in events}
    if len(kinds) == 1:  # the usual batch: one agent's heartbeats, or many agents' merged
        group = GROUP_OF[kinds.pop()]
        return {group: _table(group, list(events), range(len(events)), defaults, max_skew_s)}
    positions: dict[str, list[int]] = defaultdict(list)
    for index, event in enumerate(events):
        positions[GROUP_OF[type(event)]].append(index)
    return {group: _table(group, [events[i] for i in indexes], indexes, defaults[indexes], max_skew_s)
            for group, indexes in positions.items()}


def _table(group: str, events: list[schemas.Event], positions: Sequence[int], defaults: np.ndarray,
           max_skew_s: float) -> pa.Table:
    schema = ARROW_SCHEMAS[group]
    known = _heartbeat_values(events) if group == "worker_heartbeat" else {}
    columns = {"ts": timestamps([event.ts for event in events], positions, defaults, max_skew_s)}
    if group == "worker_register":
        _check_nesting(events, positions)
    for field in schema:
        if field.name == "memory_percent":
            columns[field.name] = _memory_percent(columns["memory_used_gb"], columns["memory_total_gb"])
        elif field.name != "ts":
            values = known[field.name] if field.name in known else _values(events, field.name)
            columns[field.name] = pa.array(values, type=field.type)
    return pa.Table.from_arrays([columns[field.name] for field in schema], schema=schema)


def _check_nesting(events: list[schemas.WorkerRegister], positions: Sequence[int]) -> None:
    """Capabilities are free-form JSON; deep nesting would only cost every later reader."""
    for event, index in zip(events, positions):
        if _depth(event.capabilities) > MAX_NESTING:
            raise BadTimestamp(index, f"nested deeper than {MAX_NESTING} levels", "capabilities")


def _depth(value: object) -> int:
    """Nesting depth of decoded JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        children = current.values() if isinstance(current, dict) else current if isinstance(current, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def _heartbeat_values(events: list[schemas.WorkerHeartbeat]) -> dict[str, list]:
    """The hot path, spelled out: a plain attribute read costs a third of getattr per cell."""
    return {"worker_id": [e.worker_id for e in events], "cpu_percent": [e.cpu_percent for e in events],
            "memory_used_gb": [e.memory_used_gb for e in events], "memory_total_gb": [e.memory_total_gb for e in events],
            "rtt_ms": [e.rtt_ms for e in events], "running_tasks": [e.running_tasks for e in events],
            "gpus": [ENCODE(e.gpus).decode() if e.gpus else None for e in events]}


def _values(events: list[schemas.Event], name: str) -> list:
    derive = DERIVED.get(name)
    if derive is not None:
        return [derive(event) for event in events]
    return [getattr(event, name, None) for event in events]


def _memory_percent(used: pa.Array, total: pa.Array) -> pa.Array:
    used_gb, total_gb = _floats(used), _floats(total)
    with np.errstate(divide="ignore", invalid="ignore"):
        percent = np.minimum(used_gb * 100.0 / total_gb, 100.0)
    percent[~(total_gb > 0)] = np.nan
    return pa.array(percent, from_pandas=True)  # NaN (no reading or no total) becomes null


def _floats(column: pa.Array) -> np.ndarray:
    return column.to_numpy(zero_copy_only=False).astype(np.float64)  # nulls become NaN


def timestamps(stamps: list, positions: Sequence[int], defaults: np.ndarray, max_skew_s: float = math.inf) -> pa.Array:
    """Microsecond timestamps; an event without ts gets its default (see default_times).

    A ts more than `max_skew_s` after its receive time is refused: one event from a clock years
    ahead would otherwise keep its worker active for ever."""
    try:
        seconds = _floats(pa.array(stamps, type=F64))  # pyarrow, unlike numpy, never parses a string
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # ISO 8601 strings among them
        seconds = np.array([_parsed(stamp, index) for stamp, index in zip(stamps, positions)], dtype=np.float64)
    missing = np.isnan(seconds)
    if missing.any():
        seconds[missing] = defaults[missing]
    out_of_range = ~((seconds >= 0) & (seconds < LATEST_EPOCH))
    if out_of_range.any():
        raise BadTimestamp(positions[int(np.argmax(out_of_range))], "ts must be seconds since the epoch")
    ahead = seconds > defaults + max_skew_s
    if ahead.any():
        first = int(np.argmax(ahead))
        raise BadTimestamp(positions[first], f"ts is {seconds[first] - defaults[first]:.0f} s ahead of the server's "
                                             f"clock (at most {max_skew_s:g} s allowed: DTMON_MAX_CLOCK_SKEW)")
    return pa.array(np.rint(seconds * 1_000_000).astype(np.int64).view("datetime64[us]"), type=TS)


def _parsed(stamp: float | str | None, index: int) -> float | None:
    if not isinstance(stamp, str):
        return stamp
    try:
        return schemas.epoch_of(stamp, 0.0)
    except (ValueError, TypeError) as exc:
        raise BadTimestamp(index, str(exc)) from None
