"""Pure translations: coordinator polls into events, Dask state into the vocabulary, pytest output into ids."""

from __future__ import annotations

from dataclasses import dataclass

from dtmon_reporter import dask_names
from dtmon_reporter.diffing import PollDiffer
from dtmon_reporter.run_tests import plan_chunks


def kinds(calls):
    return [method for method, _ in calls]


def test_new_worker_registers_then_only_beats():
    differ = PollDiffer()
    worker = {"id": "w1", "hostname": "box", "hardware": ["cpu", "cuda"], "cpu_percent": 10.0, "rtt_ms": 2.0}
    first = differ.diff([worker], [])
    assert kinds(first) == ["worker_register", "worker_heartbeat", "link"]
    assert first[0][1]["hardware"] == ["cpu", "cuda"]
    assert kinds(differ.diff([worker], [])) == ["worker_heartbeat", "link"]


def test_hardware_change_re_registers_and_disappearance_is_offline():
    differ = PollDiffer()
    differ.diff([{"id": "w1", "hardware": ["cpu"]}], [])
    assert kinds(differ.diff([{"id": "w1", "hardware": ["cpu", "rocm"]}], []))[0] == "worker_register"
    assert differ.diff([], []) == [("worker_offline", {"worker_id": "w1"})]


def test_explicit_offline_status_is_reported_once():
    differ = PollDiffer()
    differ.diff([{"id": "w1"}], [])
    assert kinds(differ.diff([{"id": "w1", "status": "offline"}], [])) == ["worker_offline"]
    assert differ.diff([{"id": "w1", "status": "offline"}], []) == []


def test_disabled_metrics_are_left_out():
    differ = PollDiffer(metrics=["cpu"])
    calls = differ.diff([{"id": "w1", "cpu_percent": 5.0, "memory_used_gb": 1.0, "rtt_ms": 3.0}],
                        [{"id": "t1", "status": "running"}])
    assert kinds(calls) == ["worker_register", "worker_heartbeat"]
    assert calls[1][1] == {"worker_id": "w1", "cpu_percent": 5.0}


def test_task_life_cycle_one_event_per_change():
    differ = PollDiffer()
    assert kinds(differ.diff_tasks([{"id": "t1", "status": "queued", "priority": 2}])) == ["task_submitted"]
    assert differ.diff_tasks([{"id": "t1", "status": "queued"}]) == []
    started = differ.diff_tasks([{"id": "t1", "status": "running", "worker_id": "w1"}])
    assert started == [("task_started", {"task_id": "t1", "worker_id": "w1"})]
    finished = differ.diff_tasks([{"id": "t1", "status": "error", "worker_id": "w1", "error": "boom"}])
    assert finished[0][1]["status"] == "failed" and finished[0][1]["error"] == "boom"


def test_task_seen_already_finished_gets_the_whole_story():
    @dataclass
    class Task:
        id: str
        status: str
        worker_id: str
        duration_s: float

    calls = PollDiffer().diff_tasks([Task("t9", "done", "w2", 1.5)])
    assert kinds(calls) == ["task_submitted", "task_started", "task_finished"]
    assert calls[2][1]["status"] == "completed" and calls[2][1]["duration_s"] == 1.5


def test_dask_translations():
    assert dask_names.task_id(("inc-abc", 3, 1)) == "inc-abc[3, 1]"
    assert dask_names.worker_id("inproc://10.0.0.1/77/2", 2) == "10.0.0.1:77:2"
    assert dask_names.worker_id("tcp://10.0.0.1:4000", "0", prefix="demo-") == "demo-000"
    assert dask_names.worker_id("tcp://10.0.0.1:4000", "gpu-box") == "gpu-box"
    assert dask_names.worker_id("tcp://10.0.0.1:4000", "tcp://10.0.0.1:4000") == "10.0.0.1:4000"  # unnamed
    assert dask_names.failure_status("TimeoutError('x')") == "timed_out"
    assert dask_names.failure_status("ValueError('x')") == "failed"
    assert dask_names.cpu_percent({"cpu": 350.0}, 4) == 87.5
    assert dask_names.hardware_of({}, {}, {"CUDA": 1, "licence": 1}) == ["cpu", "cuda"]


def test_chunks_shrink_towards_the_end_and_keep_order():
    ids = [f"t.py::test_{i}" for i in range(100)]
    chunks = plan_chunks(ids, threads=2)
    assert [node for chunk in chunks for node in chunk] == ids
    assert [len(chunk) for chunk in chunks] == [25, 19, 14, 11, 8, 7, 7, 7, 2]
    assert [len(c) for c in plan_chunks(ids, threads=2, chunk_size=1)] == [1] * 100
