"""Events become Arrow columns with the values the read API later shows."""

from datetime import timezone

import msgspec
import pytest

from backend.columns import BadTimestamp, tables_by_group
from backend.ingest import decode_batch

RECEIVED = 1_790_000_000.0


def tables(*events):
    return tables_by_group(decode_batch(msgspec.json.encode({"events": list(events)})).events, RECEIVED)


def seconds(table):
    """Epoch seconds of the table's naive-UTC ts column."""
    return [t.replace(tzinfo=timezone.utc).timestamp() for t in table.column("ts").to_pylist()]


def test_events_without_ts_keep_batch_order_one_microsecond_apart():
    got = tables({"kind": "worker_heartbeat", "worker_id": "a"}, {"kind": "worker_offline", "worker_id": "b"},
                 {"kind": "worker_heartbeat", "worker_id": "c"})
    assert seconds(got["worker_heartbeat"]) == [RECEIVED, pytest.approx(RECEIVED + 2e-6, abs=1e-7)]
    assert seconds(got["worker_offline"]) == [pytest.approx(RECEIVED + 1e-6, abs=1e-7)]


def test_numbers_and_iso_strings_mix_in_one_batch():
    got = tables({"kind": "link", "source": "a", "target": "b", "ts": 1_790_000_000.25},
                 {"kind": "link", "source": "a", "target": "b", "ts": "2026-09-21T16:13:20+02:00"})
    assert seconds(got["link"]) == [1_790_000_000.25, 1_790_000_000.0]


def test_memory_percent_is_capped_and_empty_without_a_total():
    got = tables(*({"kind": "worker_heartbeat", "worker_id": "w", "memory_used_gb": used, "memory_total_gb": total}
                   for used, total in ((4, 16), (40, 16), (4, 0), (None, 16), (4, None))))
    assert got["worker_heartbeat"].column("memory_percent").to_pylist() == [25.0, 100.0, None, None, None]


def test_a_bad_ts_names_its_index_in_the_batch():
    with pytest.raises(BadTimestamp) as caught:
        tables({"kind": "task_started", "task_id": "t", "worker_id": "w"},
               {"kind": "worker_heartbeat", "worker_id": "w", "ts": "not a time"})
    assert caught.value.index == 1
