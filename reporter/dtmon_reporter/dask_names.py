"""Pure translations from Dask's scheduler state to the ingest vocabulary (ids, statuses, metrics)."""

from __future__ import annotations

from typing import Any

from dtmon_reporter.hardware import HARDWARE_TYPES

GIB = 2**30
TIMEOUT_NAMES = ("TimeoutError",)


def task_id(key: Any) -> str:
    """Readable, unique id for a Dask key: tuples like ('x-1a2b', 3) become 'x-1a2b[3]'."""
    if isinstance(key, tuple) and key:
        return f"{key[0]}[{', '.join(str(part) for part in key[1:])}]"
    return str(key)


def worker_id(address: str, name: Any, prefix: str = "") -> str:
    """The worker's --name when given, else host:port: several workers on one host must stay apart."""
    text = "" if name is None else str(name)
    if prefix and text.isdigit():
        return f"{prefix}{int(text):03d}"
    if text and not text.isdigit() and text != address:
        return text
    return address.split("://", 1)[-1].replace("/", ":")


def failure_status(exception_text: str | None) -> str:
    """Dask only knows 'erred': a TimeoutError-type failure is reported as timed_out."""
    head = (exception_text or "").split("(", 1)[0].split(":", 1)[0].strip()
    return "timed_out" if head.rsplit(".", 1)[-1] in TIMEOUT_NAMES else "failed"


def compute_seconds(startstops: Any) -> float | None:
    """Sums the 'compute' intervals the worker reported, ignoring transfer and disk time."""
    spans = [s for s in startstops or () if s.get("action") == "compute"]
    if not spans:
        return None
    return max(0.0, sum(s["stop"] - s["start"] for s in spans))


def requirements(resources: Any) -> list[str]:
    """Resource names a task asked for (e.g. {'cuda': 1}) are its required hardware."""
    return sorted(str(name).lower() for name in (resources or {}))


def hardware_of(extra: dict, metrics: dict, resources: dict) -> list[str]:
    """Labels from the worker preload plus declared resources named like hardware; at least 'cpu'."""
    labels = set(extra.get("dtmon", {}).get("hardware") or metrics.get("dtmon_hardware") or ("cpu",))
    labels |= {str(r).lower() for r in resources if str(r).lower() in HARDWARE_TYPES}
    order = {name: index for index, name in enumerate(HARDWARE_TYPES)}
    return sorted(labels, key=lambda name: (order.get(name, len(order)), name))


def cpu_percent(metrics: dict, nthreads: int) -> float | None:
    """Dask reports process CPU that can exceed 100 with threads; scale to the worker's threads."""
    cpu = metrics.get("cpu")
    if cpu is None:
        return None
    return round(min(100.0, max(0.0, float(cpu) / max(1, nthreads))), 2)


def heartbeat_fields(metrics: dict, memory_limit: int, nthreads: int, processing: int) -> dict[str, Any]:
    """The worker_heartbeat fields Dask's own heartbeat already carries."""
    memory = metrics.get("memory")
    rtt = metrics.get("dtmon_rtt_ms")
    return {"cpu_percent": cpu_percent(metrics, nthreads),
            "memory_used_gb": None if memory is None else round(memory / GIB, 4),
            "memory_total_gb": round(memory_limit / GIB, 4) if memory_limit else None,
            "gpus": metrics.get("dtmon_gpus") or None,
            "rtt_ms": None if rtt is None else round(float(rtt), 3), "running_tasks": processing}


def bandwidth_bps(metrics: dict) -> float | None:
    """Dask's bandwidth estimate is bytes per second; the API wants bits."""
    total = (metrics.get("bandwidth") or {}).get("total")
    return None if total is None else float(total) * 8
