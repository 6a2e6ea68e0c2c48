"""Formatting shared by every page, so numbers and labels read the same everywhere."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HARDWARE_LABELS = {
    "cpu": "CPU", "cuda": "CUDA", "rocm": "ROCm", "mps": "MPS", "openvino": "OpenVINO",
    "qnn": "QNN", "webgpu": "WebGPU", "webnn": "WebNN",
}
HEALTH_COLOURS = {
    "healthy": "#2e9e5b", "warning": "#e0a030", "critical": "#d64545", "unknown": "#8a8f98",
}
# Plain geometric symbols render in every font (emoji do not on many Linux desktops).
HEALTH_MARKS = {"healthy": "●", "warning": "▲", "critical": "■", "unknown": "○"}
STATUS_MARKS = {
    "active": "●", "busy": "◉", "offline": "○", "stopped": "□", "removed": "×",
    "pending": "◌", "running": "▶",
    "completed": "✓", "failed": "✗", "timed_out": "✗", "canceled": "✗",
}
STATUS_COLOURS = {
    "active": "#2e9e5b", "busy": "#4c78a8", "offline": "#d64545", "stopped": "#8a8f98", "removed": "#8a8f98",
    "pending": "#8a8f98",
    "running": "#4c78a8", "completed": "#2e9e5b", "failed": "#d64545", "timed_out": "#e0a030",
    "canceled": "#6f4e7c",
}
QUALITY_COLOURS = {"good": "#2e9e5b", "fair": "#e0a030", "poor": "#d64545", "unknown": "#8a8f98"}
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def hardware_label(name: str) -> str:
    """Show known hardware with its product spelling and keep unknown names readable."""
    return HARDWARE_LABELS.get(name.lower(), name)


def health_colour(health: str | None) -> str:
    """Colour one health word the same way on charts, map and metrics."""
    return HEALTH_COLOURS.get(health or "unknown", HEALTH_COLOURS["unknown"])


def health_mark(health: str | None) -> str:
    """Prefix a health word with its coloured dot so tables scan at a glance."""
    word = health or "unknown"
    return f"{HEALTH_MARKS.get(word, HEALTH_MARKS['unknown'])} {word}"


def status_mark(status: str | None) -> str:
    """Prefix a status word with its symbol; unknown words stay as plain text."""
    word = status or "unknown"
    mark = STATUS_MARKS.get(word)
    return f"{mark} {word}" if mark else word


def priority_mark(priority: int | None) -> str:
    """Turn an integer priority into a visual urgency indicator (higher is more urgent)."""
    value = int(priority or 0)
    if value >= 8:
        return f"▲▲▲ {value} urgent"
    if value >= 4:
        return f"▲▲ {value} high"
    if value > 0:
        return f"▲ {value}"
    return f"· {value}"


def mark_colour(text: object) -> str:
    """CSS colour for a table cell holding a health or status mark, so tables read at a glance."""
    word = str(text).split(" ", 1)[-1]
    colour = HEALTH_COLOURS.get(word) or STATUS_COLOURS.get(word)
    return f"color: {colour}" if colour else ""


def percent(value: float | None) -> str:
    """Show a percent with one decimal, or a dash when nothing was measured yet."""
    return "—" if value is None else f"{value:.1f} %"


def number(value: float | int | None, digits: int = 1) -> str:
    """Show a number compactly, or a dash when absent."""
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def trend_delta(trend: dict[str, Any] | None, unit: str = "") -> tuple[str | None, str]:
    """Map an API trend to st.metric's (delta, delta_color) so good news is green; no change shows nothing."""
    if not trend or not trend.get("value") or trend.get("direction") == "flat":
        return None, "off"
    value = trend["value"]
    text = f"{value:+g}{unit}"
    if trend.get("status") == "neutral":
        return text, "off"
    good_when_up = (trend.get("direction") == "up") == (trend.get("status") == "good")
    return text, "normal" if good_when_up else "inverse"


def gigabytes(value: float | None) -> str:
    """Memory in GB with one decimal at most, or a dash when not reported."""
    return "—" if value is None else f"{number(value)} GB"


def plural(count: int | float, noun: str, nouns: str | None = None) -> str:
    """'1 worker', '2 workers', '1,234 tasks': the count with the noun in the form it takes."""
    word = noun if count == 1 else nouns or f"{noun}s"
    return f"{number(count)} {word}"


def clock(moment: datetime | None, zone: str | None = None) -> str:
    """A 24-hour time of day in the viewer's zone (as the charts show it), else in UTC and saying so."""
    if moment is None:
        return "—"
    try:
        return moment.astimezone(ZoneInfo(zone)).strftime("%H:%M:%S") if zone else _utc_clock(moment)
    except (ZoneInfoNotFoundError, ValueError):
        return _utc_clock(moment)


def _utc_clock(moment: datetime) -> str:
    """The UTC time of day, labelled so nobody takes it for local time."""
    return moment.astimezone(timezone.utc).strftime("%H:%M:%S UTC")


def escape_markdown(text: Any) -> str:
    """Make worker-supplied text inert inside st.markdown (no links, no HTML, no emphasis)."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text))


def parse_time(value: str | None) -> datetime | None:
    """Read the API's ISO 8601 UTC timestamps; None stays None."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def ago(value: str | datetime | None, now: datetime | None = None) -> str:
    """Say how long ago something happened, the way an operator reads it."""
    moment = parse_time(value) if isinstance(value, str) else value
    if moment is None:
        return "never"
    seconds = max(0.0, ((now or datetime.now(timezone.utc)) - moment).total_seconds())
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} d ago"
