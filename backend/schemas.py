"""Wire schemas (msgspec): ingest events, auth payloads and small responses."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Text = Annotated[str, msgspec.Meta(max_length=65536)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Timestamp = Union[float, str, None]
Int32 = Annotated[int, msgspec.Meta(ge=-2_147_483_648, le=2_147_483_647)]  # stored as INTEGER
FinishedStatus = Literal["completed", "failed", "timed_out", "canceled"]


class Gpu(msgspec.Struct, forbid_unknown_fields=False, gc=False):
    name: Annotated[str, msgspec.Meta(max_length=256)] = ""
    memory_used_gb: NonNegative | None = None
    memory_total_gb: NonNegative | None = None
    utilization: Percent | None = None


# gc=False: events hold no cycles, and tracking 1,000 structs per batch made the collector a hot spot.
class Event(msgspec.Struct, tag_field="kind", kw_only=True, gc=False):
    ts: Timestamp = None


class WorkerRegister(Event, tag="worker_register"):
    worker_id: Name
    hostname: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    hardware: Annotated[list[Name], msgspec.Meta(max_length=64)] = []
    capabilities: dict[str, Any] = {}


class WorkerHeartbeat(Event, tag="worker_heartbeat"):
    worker_id: Name
    cpu_percent: Percent | None = None
    memory_used_gb: NonNegative | None = None
    memory_total_gb: NonNegative | None = None
    gpus: Annotated[list[Gpu], msgspec.Meta(max_length=64)] = []
    rtt_ms: NonNegative | None = None
    running_tasks: Annotated[int, msgspec.Meta(ge=0, le=2_147_483_647)] | None = None


class WorkerOffline(Event, tag="worker_offline"):
    worker_id: Name


class TaskSubmitted(Event, tag="task_submitted"):
    task_id: Name
    type: Name = "test"
    priority: Int32 = 0
    requirements: Annotated[list[Name], msgspec.Meta(max_length=64)] = []


class TaskStarted(Event, tag="task_started"):
    task_id: Name
    worker_id: Name


class TaskFinished(Event, tag="task_finished"):
    task_id: Name
    status: FinishedStatus
    worker_id: Name | None = None
    error: Text | None = None
    duration_s: NonNegative | None = None


class Link(Event, tag="link"):
    source: Name
    target: Name
    rtt_ms: NonNegative | None = None
    bandwidth_bps: NonNegative | None = None


Outcome = Literal["passed", "failed", "error", "skipped", "timed_out"]
Finite = Annotated[float, msgspec.Meta(ge=-1e300, le=1e300)]  # NaN and infinities fail both bounds


class CaseResult(Event, tag="test_result"):
    """One attempt of one test (named CaseResult so pytest never mistakes it for a test class)."""

    run_id: Name
    test_id: Name
    outcome: Outcome
    worker_id: Name
    hardware: Name
    duration_s: NonNegative | None = None
    commit: Name | None = None
    branch: Name | None = None
    attempt: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1
    error: Text | None = None


class BenchmarkResult(Event, tag="benchmark_result"):
    run_id: Name
    benchmark: Name
    value: Finite
    unit: Name
    worker_id: Name
    hardware: Name
    lower_is_better: bool = True
    commit: Name | None = None


AnyEvent = Union[WorkerRegister, WorkerHeartbeat, WorkerOffline, TaskSubmitted, TaskStarted, TaskFinished, Link,
                 CaseResult, BenchmarkResult]


class IngestBatch(msgspec.Struct, gc=False):
    events: Annotated[list[AnyEvent], msgspec.Meta(max_length=100_000)]
    id: str | int | None = None


class IngestResult(msgspec.Struct):
    accepted: int


class LoginRequest(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class LoginResult(msgspec.Struct):
    token: str
    role: str
    expires_at: str | None


class OidcLoginRequest(msgspec.Struct):
    id_token: Annotated[str, msgspec.Meta(min_length=1, max_length=16384)]


class OidcLoginResult(msgspec.Struct):
    token: str
    role: str
    name: str
    expires_at: str | None


class TokenRequest(msgspec.Struct):
    role: Literal["admin", "user", "ingest"]
    name: Annotated[str, msgspec.Meta(max_length=128)] = ""


class TokenCreated(msgspec.Struct):
    token: str
    token_id: str
    role: str
    name: str


Password = Annotated[str, msgspec.Meta(min_length=8, max_length=1024)]


class UserRequest(msgspec.Struct):
    # "." and ".." would read as path segments in /api/auth/users/{name}
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^(?!\.\.?$)[A-Za-z0-9_.@-]+$")]
    password: Password
    role: Literal["admin", "user"]


class UserChange(msgspec.Struct):
    disabled: bool


class PasswordChange(msgspec.Struct):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    new_password: Password


class PasswordReset(msgspec.Struct):
    password: Password


class Identity(msgspec.Struct):
    name: str
    role: str
    kind: str


def epoch_of(value: Timestamp, received: float) -> float:
    """Seconds since the epoch from a number, an ISO 8601 string, or the receive time."""
    if value is None:
        return received
    if isinstance(value, (int, float)):
        if not 0 <= value < 32503680000:
            raise ValueError("ts must be seconds since the epoch")
        return float(value)
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def iso(epoch: float | None) -> str | None:
    """ISO 8601 in UTC with a Z, as every response carries it."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat().replace("+00:00", "Z")


OverviewPanel = Literal["health", "cpu", "memory", "tasks_by_status", "hardware", "alerts", "attention",
                        "failed_tasks"]
WorkerColumn = Literal["id", "status", "health", "cpu", "memory_percent", "hardware", "hostname",
                       "tasks_completed", "success_rate", "last_seen"]
TaskColumn = Literal["id", "status", "type", "priority", "worker", "duration", "submitted", "error"]


class Layout(msgspec.Struct, forbid_unknown_fields=True):
    """Which overview panels and table columns a viewer sees, in order."""

    overview: Annotated[list[OverviewPanel], msgspec.Meta(min_length=1, max_length=32)]
    worker_columns: Annotated[list[WorkerColumn], msgspec.Meta(min_length=1, max_length=32)]
    task_columns: Annotated[list[TaskColumn], msgspec.Meta(min_length=1, max_length=32)]


class LayoutView(msgspec.Struct):
    """The layout in effect, where it comes from, and every choice the dashboard may offer."""

    layout: Layout
    source: Literal["own", "default", "built-in"]
    choices: dict[str, list[str]]
