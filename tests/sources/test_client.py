"""MonitoringClient and its buffer: bounds, batching, retry, rejection handling, never blocking."""

from __future__ import annotations

import socket
import threading

from dtmon_reporter.buffer import EventBuffer
from dtmon_reporter.client import MonitoringClient, _Backoff, clip_name, normalise_base_url


def fast_client(url: str, **options) -> MonitoringClient:
    defaults = dict(linger_s=0.01, backoff_base_s=0.05, backoff_max_s=0.2)
    return MonitoringClient(url, "token", **{**defaults, **options})


def test_buffer_drops_oldest_and_counts():
    buffer = EventBuffer(3)
    for i in range(5):
        buffer.put({"i": i})
    assert [e["i"] for _, e in buffer.peek(10)] == [2, 3, 4]
    assert buffer.dropped == 2


def test_buffer_ack_survives_evictions_during_a_send():
    buffer = EventBuffer(3)
    for i in range(3):
        buffer.put({"i": i})
    in_flight = buffer.peek(3)
    buffer.put({"i": 3})  # evicts event 0 while the batch is in flight
    buffer.ack(in_flight[-1][0])
    assert [e["i"] for _, e in buffer.peek(10)] == [3]


def test_base_url_accepts_api_suffix():
    assert normalise_base_url("http://h:8050/api/") == "http://h:8050"


def test_long_ids_are_clipped_but_stay_distinct():
    a, b = clip_name("x" * 300 + "a"), clip_name("x" * 300 + "b")
    assert len(a) <= 256 and len(b) <= 256 and a != b


def test_events_arrive_in_batches_with_bearer_token(make_receiver):
    receiver = make_receiver()
    client = fast_client(receiver.url, batch_size=50)
    for i in range(120):
        client.worker_heartbeat("w1", cpu_percent=float(i % 100))
    assert client.close(10)
    assert [e["cpu_percent"] for e in receiver.events] == [float(i % 100) for i in range(120)]
    assert receiver.requests >= 3  # 120 events cannot fit one 50-event batch


def test_outage_is_retried_until_delivered(make_receiver):
    refusals = {"left": 4}

    def flaky(events):
        if refusals["left"]:
            refusals["left"] -= 1
            return 503, {"detail": "starting"}
        return 200, {"accepted": len(events)}

    receiver = make_receiver(flaky)
    client = fast_client(receiver.url)
    client.worker_offline("w1")
    assert client.close(10)
    assert receiver.kinds() == ["worker_offline"] and receiver.requests == 5


def test_validation_error_drops_only_the_named_event(make_receiver):
    def reject_negative(events):
        bad = [i for i, e in enumerate(events) if e.get("cpu_percent", 0) < 0]
        if bad:
            return 422, {"detail": "cpu_percent", "extra": {"index": bad[0], "field": "cpu_percent"}}
        return 200, {"accepted": len(events)}

    receiver = make_receiver(reject_negative)
    client = fast_client(receiver.url)
    for cpu in (1.0, -5.0, 2.0):
        client.worker_heartbeat("w1", cpu_percent=cpu)
    assert client.close(10)
    assert [e["cpu_percent"] for e in receiver.events] == [1.0, 2.0]
    assert client.rejected == 1


def test_too_large_batches_are_split(make_receiver):
    receiver = make_receiver(lambda events: (413, {}) if len(events) > 10 else (200, {"accepted": len(events)}))
    client = fast_client(receiver.url, batch_size=100)
    for i in range(40):
        client.task_submitted(f"t{i}")
    assert client.close(10)
    assert [e["task_id"] for e in receiver.events] == [f"t{i}" for i in range(40)]


def test_reporting_never_waits_for_a_stuck_backend(make_receiver):
    release = threading.Event()

    def stuck(events):
        release.wait(30)
        return 200, {"accepted": len(events)}

    receiver = make_receiver(stuck)
    client = fast_client(receiver.url, buffer_size=100)
    client.worker_heartbeat("w1")
    for i in range(1000):  # the sender is blocked inside a request the whole time
        client.worker_heartbeat("w1", cpu_percent=float(i % 100))
    queued, dropped = client.pending, client.dropped
    release.set()
    client.close(10)
    assert queued <= 100 and dropped >= 900


def test_unreachable_backend_keeps_events_for_later(helpers):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))  # bound but never listening: refused, and no one else can take the port
        client = fast_client(f"http://127.0.0.1:{holder.getsockname()[1]}", buffer_size=5)
        for i in range(8):
            client.worker_heartbeat("w1", cpu_percent=float(i))
        helpers.eventually(lambda: client.last_error)
        assert not client.close(0.3)
    assert client.pending == 5 and client.dropped == 3 and "ConnectError" in client.last_error


def test_backoff_stays_capped_after_days_of_failures():
    backoff = _Backoff(0.5, 30.0)
    backoff.failures = 100_000
    assert 0 < backoff.next_delay() <= 36.0


def test_two_thousand_failures_then_delivery_resumes_without_loss(make_receiver, helpers):
    outage = {"left": 2000}

    def down_then_up(events):
        if outage["left"]:
            outage["left"] -= 1
            return 503, {"detail": "down"}
        return 200, {"accepted": len(events)}

    receiver = make_receiver(down_then_up)
    client = fast_client(receiver.url, buffer_size=400, linger_s=0, backoff_base_s=0.0002, backoff_max_s=0.001)
    for i in range(300):
        client.task_submitted(f"t{i}")
    helpers.eventually(lambda: not outage["left"], timeout=120)
    for i in range(300, 400):
        client.task_submitted(f"t{i}")
    assert client.close(30)
    assert [e["task_id"] for e in receiver.events] == [f"t{i}" for i in range(400)]
    assert client.dropped == 0 and receiver.requests > 2000


def test_an_event_that_is_not_json_is_dropped_alone(make_receiver):
    receiver = make_receiver()
    client = fast_client(receiver.url)
    client.worker_heartbeat("w1", cpu_percent=1.0)
    client.emit({"kind": "link", "source": object()})
    client.worker_heartbeat("w1", cpu_percent=2.0)
    assert client.close(10)
    assert [e["cpu_percent"] for e in receiver.events] == [1.0, 2.0] and client.rejected == 1
