"""Time query parameters shared by the read routes: epoch or ISO 8601, named ranges."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Literal

from litestar.exceptions import ValidationException

from backend import monitoring
from backend.columns import LATEST_EPOCH

RangeName = Literal["1h", "6h", "24h", "7d", "30d"]


def parse_time(value: str, field: str) -> float:
    """Epoch seconds or ISO 8601 between 1970 and 3000; a bad value names its query parameter."""
    try:
        epoch = float(value)
    except ValueError:
        epoch = _iso_epoch(value, field)
    if not 0 <= epoch < LATEST_EPOCH:  # also NaN
        raise ValidationException(f"{field}: must be a time between 1970 and 3000, got {value!r}")
    return epoch


def _iso_epoch(value: str, field: str) -> float:
    try:
        parsed = datetime.fromisoformat(value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()
    except (ValueError, OverflowError):
        raise ValidationException(f"{field}: expected epoch seconds or ISO 8601, got {value!r}") from None


def time_range(range_: str | None, start: str | None, end: str | None) -> tuple[float, float]:
    now = time.time()
    until = parse_time(end, "end") if end else now
    if start:
        since = parse_time(start, "start")
    else:
        since = until - monitoring.RANGES[range_ or "1h"]
    if since >= until:
        raise ValidationException("start: must be before end")
    return since, until
