"""Pure Altair chart builders: data in, chart out, so pages stay short and tests can read the data."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from ui.fmt import HEALTH_COLOURS, hardware_label

_SERIES_COLOURS = alt.Scale(domain=["Average", "Maximum"], range=["#4c78a8", "#e45756"])
_STATUS_ORDER = ["pending", "running", "completed", "failed", "timed_out", "canceled"]
_STATUS_COLOURS = ["#8a8f98", "#4c78a8", "#2e9e5b", "#d64545", "#e0a030", "#6f4e7c"]
# Vega's default time labels are 12-hour without AM/PM ("03:45"); every granularity gets a 24-hour form.
_TIME_LABELS = {"year": "%Y", "quarter": "%b %Y", "month": "%b %Y", "week": "%b %d", "date": "%b %d",
                "hours": "%H:%M", "minutes": "%H:%M", "seconds": "%H:%M:%S", "milliseconds": "%H:%M:%S.%L"}


def time_x(field: str = "ts") -> alt.X:
    """The shared time axis: untitled, labelled on a 24-hour clock."""
    return alt.X(f"{field}:T", title=None, axis=alt.Axis(format=_TIME_LABELS))


def resource_frame(points: list[dict[str, Any]], metric: str) -> pd.DataFrame:
    """Reshape resource points into long form (ts, series, value) for one metric (cpu or memory)."""
    rows = [
        {"ts": point["ts"], "series": series, "value": point.get(f"{metric}_{suffix}")}
        for point in points
        for series, suffix in (("Average", "avg"), ("Maximum", "max"))
    ]
    frame = pd.DataFrame(rows, columns=["ts", "series", "value"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame.dropna(subset=["value"])


def resource_chart(points: list[dict[str, Any]], metric: str, title: str) -> alt.Chart:
    """Average and maximum of one resource across workers over time, in percent."""
    frame = resource_frame(points, metric)
    return (
        alt.Chart(frame, title=title)
        .mark_line(interpolate="monotone", point=len(frame) < 40)
        .encode(
            x=time_x(),
            y=alt.Y("value:Q", title="%", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("series:N", scale=_SERIES_COLOURS, title=None),
            tooltip=[alt.Tooltip("ts:T", format="%Y-%m-%d %H:%M:%S"), "series:N",
                     alt.Tooltip("value:Q", format=".1f")],
        )
        .properties(height=260)
    )


def tasks_by_status_frame(counts: dict[str, int]) -> pd.DataFrame:
    """One row per task status in a fixed order, keeping statuses the API adds later."""
    order = _STATUS_ORDER + sorted(set(counts) - set(_STATUS_ORDER))
    return pd.DataFrame({"status": order, "tasks": [int(counts.get(s, 0)) for s in order]})


def tasks_by_status_chart(counts: dict[str, int]) -> alt.Chart:
    """Bar per task status so a growing backlog or failure spike stands out."""
    frame = tasks_by_status_frame(counts)
    colours = alt.Scale(domain=_STATUS_ORDER, range=_STATUS_COLOURS)
    return (
        alt.Chart(frame, title="Tasks by status")
        .mark_bar()
        .encode(
            x=alt.X("status:N", sort=list(frame["status"]), title=None),
            y=alt.Y("tasks:Q", title="tasks"),
            color=alt.Color("status:N", scale=colours, legend=None),
            tooltip=["status:N", "tasks:Q"],
        )
        .properties(height=260)
    )


def hardware_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Long form (hardware, measure, count) of available vs total per hardware type."""
    long_rows = [
        {"hardware": row.get("label") or hardware_label(row["type"]), "measure": measure,
         "count": int(row.get(measure) or 0)}
        for row in rows
        for measure in ("available", "total")
    ]
    return pd.DataFrame(long_rows, columns=["hardware", "measure", "count"])


def hardware_chart(rows: list[dict[str, Any]]) -> alt.Chart:
    """Grouped bars: for each hardware type, how many workers have it and how many are free."""
    frame = hardware_frame(rows)
    colours = alt.Scale(domain=["available", "total"], range=["#2e9e5b", "#4c78a8"])
    return (
        alt.Chart(frame, title="Hardware availability")
        .mark_bar()
        .encode(
            x=alt.X("hardware:N", title=None),
            xOffset=alt.XOffset("measure:N", sort=["available", "total"]),
            y=alt.Y("count:Q", title="workers"),
            color=alt.Color("measure:N", scale=colours, title=None),
            tooltip=["hardware:N", "measure:N", "count:Q"],
        )
        .properties(height=320)
    )


def worker_series_frame(series: list[dict[str, Any]]) -> pd.DataFrame:
    """Long form (ts, resource, value) of one worker's CPU and memory percent."""
    rows = [
        {"ts": sample["ts"], "resource": name, "value": sample.get(key)}
        for sample in series
        for name, key in (("CPU %", "cpu"), ("Memory %", "memory_percent"))
    ]
    frame = pd.DataFrame(rows, columns=["ts", "resource", "value"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame.dropna(subset=["value"])


def worker_series_chart(series: list[dict[str, Any]]) -> alt.Chart:
    """CPU and memory history of one worker on a shared percent axis."""
    return (
        alt.Chart(worker_series_frame(series), title="CPU and memory")
        .mark_line(interpolate="monotone")
        .encode(
            x=time_x(),
            y=alt.Y("value:Q", title="%", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("resource:N", title=None),
            tooltip=[alt.Tooltip("ts:T", format="%H:%M:%S"), "resource:N",
                     alt.Tooltip("value:Q", format=".1f")],
        )
        .properties(height=240)
    )


def health_score_colour(status: str | None) -> str:
    """Colour for the cluster health badge, matching the map's node colours."""
    return HEALTH_COLOURS.get(status or "unknown", HEALTH_COLOURS["unknown"])
