"""MonitoringClient: one method per ingest event kind, sent in batches by a background thread."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from typing import Any

import httpx

from dtmon_reporter.buffer import Event, EventBuffer

log = logging.getLogger("dtmon.sources")

try:  # msgspec encodes several times faster; the sources must still work with httpx and psutil alone
    from msgspec.json import encode as _encode
except ImportError:  # pragma: no cover - exercised on worker hosts without msgspec
    def _encode(payload: Any) -> bytes:
        return json.dumps(payload, separators=(",", ":")).encode()


def normalise_base_url(url: str) -> str:
    """Accepts both the server root and its /api prefix, as users paste either."""
    base = url.rstrip("/")
    return base[: -len("/api")] if base.endswith("/api") else base


MAX_NAME = 256
MAX_ERROR = 16_000


def clip_name(value: str) -> str:
    """Keeps ids within the API's 256 characters while staying unique (long pytest ids exist)."""
    if len(value) <= MAX_NAME:
        return value
    digest = hashlib.sha1(value.encode()).hexdigest()[:16]
    return f"{value[: MAX_NAME - 20]}...{digest}"


def clip_error(text: str | None) -> str | None:
    """Keeps the end of long failure output, where the assertion usually is."""
    if text is None or len(text) <= MAX_ERROR:
        return text
    return "...\n" + text[-(MAX_ERROR - 4):]


def _event(kind: str, ts: float | None, **fields: Any) -> Event:
    """Stamps the event when it happens, so buffered events keep their real times."""
    event = {key: value for key, value in fields.items() if value is not None}
    event["kind"] = kind
    event["ts"] = time.time() if ts is None else ts
    return event


MAX_DOUBLINGS = 30


class _Backoff:
    """Exponential backoff with jitter, so a fleet does not hammer a recovering backend in step."""

    def __init__(self, base: float, ceiling: float) -> None:
        self.base, self.ceiling, self.failures = base, ceiling, 0

    def next_delay(self) -> float:
        """The exponent stops growing once the ceiling is reached, so days of outage cannot overflow it."""
        delay = min(self.ceiling, self.base * 2.0 ** min(self.failures, MAX_DOUBLINGS))
        self.failures += 1
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.failures = 0


class MonitoringClient:
    """Sends events to POST /api/ingest without ever blocking the code that reports them."""

    def __init__(self, url: str, token: str, *, batch_size: int = 500, buffer_size: int = 10_000,
                 linger_s: float = 0.2, request_timeout_s: float = 10.0,
                 backoff_base_s: float = 0.5, backoff_max_s: float = 30.0) -> None:
        self.base_url = normalise_base_url(url)
        self._headers = {"Authorization": f"Bearer {token}"}
        self.batch_size, self.linger_s, self.request_timeout_s = batch_size, linger_s, request_timeout_s
        self._batch_limit = batch_size
        self.buffer = EventBuffer(buffer_size)
        self._backoff = _Backoff(backoff_base_s, backoff_max_s)
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.rejected = 0
        self.last_error: str | None = None

    # -- one method per event kind (fields as in docs/API.md) ------------------------
    def worker_register(self, worker_id: str, hostname: str | None = None, hardware: list[str] | None = None,
                        capabilities: dict[str, Any] | None = None, ts: float | None = None) -> None:
        self.emit(_event("worker_register", ts, worker_id=clip_name(worker_id), hostname=hostname,
                         hardware=hardware, capabilities=capabilities))

    def worker_heartbeat(self, worker_id: str, cpu_percent: float | None = None,
                         memory_used_gb: float | None = None, memory_total_gb: float | None = None,
                         gpus: list[dict[str, Any]] | None = None, rtt_ms: float | None = None,
                         running_tasks: int | None = None, ts: float | None = None) -> None:
        self.emit(_event("worker_heartbeat", ts, worker_id=clip_name(worker_id), cpu_percent=cpu_percent,
                         memory_used_gb=memory_used_gb, memory_total_gb=memory_total_gb, gpus=gpus,
                         rtt_ms=rtt_ms, running_tasks=running_tasks))

    def worker_offline(self, worker_id: str, ts: float | None = None) -> None:
        self.emit(_event("worker_offline", ts, worker_id=clip_name(worker_id)))

    # The task events are spelled out as literals: a scheduler plugin calls them three times per
    # task on its event loop, and the generic _event costs twice as much. null is valid for
    # every optional field here.
    def task_submitted(self, task_id: str, type: str = "test", priority: int = 0,
                       requirements: list[str] | None = None, ts: float | None = None) -> None:
        self.emit({"kind": "task_submitted", "ts": time.time() if ts is None else ts, "task_id": clip_name(task_id),
                   "type": type, "priority": priority, "requirements": requirements or []})

    def task_started(self, task_id: str, worker_id: str, ts: float | None = None) -> None:
        self.emit({"kind": "task_started", "ts": time.time() if ts is None else ts, "task_id": clip_name(task_id),
                   "worker_id": clip_name(worker_id)})

    def task_finished(self, task_id: str, status: str, worker_id: str | None = None, error: str | None = None,
                      duration_s: float | None = None, ts: float | None = None) -> None:
        self.emit({"kind": "task_finished", "ts": time.time() if ts is None else ts, "task_id": clip_name(task_id),
                   "status": status, "worker_id": worker_id and clip_name(worker_id), "error": clip_error(error),
                   "duration_s": duration_s})

    def link(self, source: str, target: str, rtt_ms: float | None = None,
             bandwidth_bps: float | None = None, ts: float | None = None) -> None:
        self.emit(_event("link", ts, source=clip_name(source), target=clip_name(target), rtt_ms=rtt_ms,
                         bandwidth_bps=bandwidth_bps))

    def test_result(self, run_id: str, test_id: str, outcome: str, worker_id: str, hardware: str,
                    duration_s: float | None = None, commit: str | None = None, branch: str | None = None,
                    attempt: int = 1, error: str | None = None, ts: float | None = None) -> None:
        """One attempt of one test: outcome passed, failed, error, skipped or timed_out; attempt 2+ for reruns."""
        self.emit(_event("test_result", ts, run_id=clip_name(run_id), test_id=clip_name(test_id), outcome=outcome,
                         worker_id=clip_name(worker_id), hardware=hardware, duration_s=duration_s, commit=commit,
                         branch=branch, attempt=attempt, error=clip_error(error)))

    def benchmark_result(self, run_id: str, benchmark: str, value: float, unit: str, worker_id: str, hardware: str,
                         lower_is_better: bool = True, commit: str | None = None, ts: float | None = None) -> None:
        self.emit(_event("benchmark_result", ts, run_id=clip_name(run_id), benchmark=clip_name(benchmark),
                         value=value, unit=unit, worker_id=clip_name(worker_id), hardware=hardware,
                         lower_is_better=lower_is_better, commit=commit))

    def emit(self, event: Event) -> None:
        """Queues any ready-made event; starts the sender lazily so constructing a client is free."""
        self.buffer.put(event)
        if self._thread is None:
            self.start()

    # -- lifecycle ------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        """Events lost because the buffer bound was reached while the backend was unreachable."""
        return self.buffer.dropped

    @property
    def pending(self) -> int:
        return len(self.buffer)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dtmon-sender", daemon=True)
            self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until every queued event is acknowledged; False if time ran out first."""
        deadline = time.monotonic() + timeout
        while len(self.buffer) and time.monotonic() < deadline:
            time.sleep(0.02)
        return not len(self.buffer)

    def close(self, timeout: float = 5.0) -> bool:
        """Stops the sender after trying for up to timeout seconds to deliver what is queued."""
        self._deadline = time.monotonic() + timeout
        self._stopping.set()
        self.buffer.wake()
        if self._thread is not None:
            self._thread.join(timeout + self.request_timeout_s)
        return not len(self.buffer)

    def ping(self, timeout: float = 2.0) -> float | None:
        """Measures the round trip to the backend in milliseconds, or None when it is unreachable."""
        started = time.perf_counter()
        try:
            httpx.get(f"{self.base_url}/api/health", timeout=timeout).raise_for_status()
        except httpx.HTTPError:
            return None
        return (time.perf_counter() - started) * 1000.0

    # -- sender thread -------------------------------------------------------------
    def _run(self) -> None:
        headers = {**self._headers, "Content-Type": "application/json"}
        with httpx.Client(headers=headers, timeout=self.request_timeout_s) as http:
            while not self._finished():
                if not self._step(http):
                    self._stopping.wait(self._backoff.next_delay())

    def _step(self, http: httpx.Client) -> bool:
        """One wait-and-send; any surprise is logged and retried, because a dead sender reports nothing ever again."""
        try:
            if not self.buffer.wait(0.5):
                return True
            if len(self.buffer) < self._batch_limit and not self._stopping.is_set():
                self._stopping.wait(self.linger_s)
            return self._send_batch(http)
        except Exception as exc:  # noqa: BLE001 - the thread must outlive any single failure
            log.exception("dtmon sender: unexpected error, will retry")
            return self._note_failure(f"{type(exc).__name__}: {exc}")

    def _finished(self) -> bool:
        if not self._stopping.is_set():
            return False
        return not len(self.buffer) or time.monotonic() >= self._deadline

    def _send_batch(self, http: httpx.Client) -> bool:
        """Posts the oldest events; True when the caller may go straight on to the next batch."""
        batch = self.buffer.peek(self._batch_limit)
        if not batch:
            return True
        try:
            body = _encode({"events": [e for _, e in batch]})
        except (TypeError, ValueError, OverflowError):
            self._discard_unencodable(batch)
            return True
        try:
            response = http.post(f"{self.base_url}/api/ingest", content=body)
        except httpx.HTTPError as exc:
            return self._note_failure(f"{type(exc).__name__}: {exc}")
        if response.is_success:
            return self._note_success(batch)
        return self._handle_refusal(batch, response)

    def _discard_unencodable(self, batch: list[tuple[int, Event]]) -> None:
        """An event that is not JSON (an SDK caller passed an object) would block the queue forever: drop it."""
        for seq, event in batch:
            try:
                _encode(event)
            except (TypeError, ValueError, OverflowError) as exc:
                log.error("dtmon dropped an event that is not JSON (%s): %r", exc, event)
                self.buffer.discard(seq)
                self.rejected += 1

    def _note_success(self, batch: list[tuple[int, Event]]) -> bool:
        self.buffer.ack(batch[-1][0])
        self.sent += len(batch)
        self._batch_limit = self.batch_size
        self._backoff.reset()
        self.last_error = None
        return True

    def _note_failure(self, message: str) -> bool:
        if message != self.last_error:
            log.warning("dtmon ingest failed, will retry: %s", message)
        self.last_error = message
        return False

    def _handle_refusal(self, batch: list[tuple[int, Event]], response: httpx.Response) -> bool:
        """A 422 names one bad event: drop only it; a 413 halves the batch; anything else is retried."""
        if response.status_code == 413 and self._batch_limit > 1:
            self._batch_limit = max(1, self._batch_limit // 2)
            return True
        bad_index = _rejected_index(response)
        if response.status_code == 422 and bad_index is not None and bad_index < len(batch):
            log.error("dtmon ingest rejected event %s: %s", batch[bad_index][1], response.text[:500])
            self.buffer.discard(batch[bad_index][0])
            self.rejected += 1
            return True
        return self._note_failure(f"HTTP {response.status_code}: {response.text[:200]}")


def _rejected_index(response: httpx.Response) -> int | None:
    """Reads extra.index from the backend's validation error body."""
    try:
        index = response.json().get("extra", {}).get("index")
    except (ValueError, AttributeError):
        return None
    return index if isinstance(index, int) else None
