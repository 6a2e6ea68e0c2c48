"""Pure rules: cluster health score, trends, link quality (documented in the README)."""

from __future__ import annotations

HEALTHY_AT, WARNING_AT = 80.0, 50.0
WEIGHTS = {"availability": 0.4, "failure_rate": 0.3, "resource_pressure": 0.2, "stale": 0.1}


def health(fleet: dict) -> dict:
    """Score 0-100 from availability, recent failure rate, resource pressure and stale heartbeats.

    availability = online / (online + workers that went silent without saying so within the
    trend window); failure_rate = failed / finished over DTMON_HEALTH_WINDOW; pressure = share of
    online workers at >= 90 % CPU or memory; stale = share of online workers quiet for half of
    DTMON_OFFLINE_AFTER. score = 100 * sum(weight * goodness); >= 80 healthy, >= 50 warning.
    """
    online, timed_out = fleet["online"], fleet["timed_out"]
    if online + timed_out == 0:
        return {"score": 0.0, "status": "unknown", "components": {}}
    if online == 0:  # every worker went silent: nothing else matters
        return {"score": 0.0, "status": "critical", "components": {"availability": 0.0}}
    parts = {
        "availability": online / (online + timed_out),
        "failure_rate": _ratio(fleet["recent_failed"], fleet["recent_finished"]),
        "resource_pressure": _ratio(fleet["pressured"], online),
        "stale": _ratio(fleet["stale"], online),
    }
    goodness = {k: (v if k == "availability" else 1 - v) for k, v in parts.items()}
    score = round(100 * sum(WEIGHTS[k] * goodness[k] for k in WEIGHTS), 1)
    return {"score": score, "status": status_of(score),
            "components": {k: round(100 * v, 1) for k, v in parts.items()}}


def status_of(score: float) -> str:
    if score >= HEALTHY_AT:
        return "healthy"
    return "warning" if score >= WARNING_AT else "critical"


def success_rate(completed: int, finished: int) -> float | None:
    """Percent of finished tasks that completed; None before anything finished."""
    return round(100 * completed / finished, 1) if finished else None


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def trend(now: float | None, before: float | None, higher_is_better: bool | None) -> dict:
    """Direction and signed change against the past; status says whether the change is good."""
    if now is None or before is None:
        return {"direction": "flat", "value": 0, "status": "neutral"}
    change = round(now - before, 1)
    direction = "up" if change > 0 else "down" if change < 0 else "flat"
    if direction == "flat" or higher_is_better is None:
        return {"direction": direction, "value": change, "status": "neutral"}
    good = (change > 0) == higher_is_better
    return {"direction": direction, "value": change, "status": "good" if good else "bad"}


def link_quality(rtt_ms: float | None, gap_avg: float | None, gap_dev: float | None,
                 online: bool) -> tuple[float | None, str]:
    """0..1 from round-trip time (1 at <= 10 ms, 0 at >= 500 ms) times heartbeat regularity.

    Regularity = 1 - mean deviation of heartbeat gaps / mean gap (clamped); an offline link is 0.
    """
    if not online:
        return 0.0, "poor"
    if rtt_ms is None and gap_avg is None:
        return None, "unknown"
    rtt_score = 1.0 if rtt_ms is None else _clamp(1 - (rtt_ms - 10) / 490)
    regularity = 1.0 if not gap_avg else _clamp(1 - (gap_dev or 0) / gap_avg)
    quality = round(rtt_score * regularity, 3)
    return quality, quality_label(quality)


def quality_label(quality: float) -> str:
    return "good" if quality >= 0.7 else "fair" if quality >= 0.4 else "poor"


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))
