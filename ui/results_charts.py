"""Pure chart builders for the Tests and Benchmarks pages: rows from the API in, chart (or Vega-Lite spec) out."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from ui.fmt import hardware_label

OUTCOMES = ["passed", "failed", "error", "timed_out", "skipped"]
OUTCOME_COLOURS = alt.Scale(domain=OUTCOMES, range=["#2e9e5b", "#d64545", "#9c2f2f", "#e0a030", "#8a8f98"])


def matrix_cells(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per test x hardware cell of /api/tests/matrix."""
    return [{"test": row["test_id"], "hardware": hardware_label(hw), "pass_rate": cell["pass_rate"],
             "runs": cell["runs"], "failures": cell["failures"], "verdict": cell["verdict"]}
            for row in rows for hw, cell in row["cells"].items()]


def matrix_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pass rate of the last runs per test x hardware; red where a test fails on one backend only.

    A plain Vega-Lite spec: building it through Altair's schema classes costs the page ~30 ms a run."""
    return {
        "title": "Outcome matrix (pass rate of the last runs)", "mark": "rect",
        "data": {"values": matrix_cells(rows)},
        "encoding": {
            "x": {"field": "hardware", "type": "nominal", "title": None},
            "y": {"field": "test", "type": "nominal", "sort": [row["test_id"] for row in rows], "title": None},
            "color": {"field": "pass_rate", "type": "quantitative", "title": "pass rate",
                      "scale": {"domain": [0, 1], "range": ["#d64545", "#f2d16b", "#2e9e5b"]}},
            "tooltip": [{"field": "test", "type": "nominal"}, {"field": "hardware", "type": "nominal"},
                        {"field": "pass_rate", "type": "quantitative", "format": ".0%"},
                        {"field": "runs", "type": "quantitative"}, {"field": "failures", "type": "quantitative"},
                        {"field": "verdict", "type": "nominal"}],
        },
    }


def history_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame([{"ts": row["ts"], "outcome": row["outcome"], "duration_s": row.get("duration_s"),
                           "hardware": hardware_label(row["hardware"]), "worker": row["worker_id"],
                           "run": row["run_id"], "attempt": row["attempt"]} for row in rows],
                         columns=["ts", "outcome", "duration_s", "hardware", "worker", "run", "attempt"])
    frame["ts"] = pd.to_datetime(frame["ts"], unit="s", utc=True)
    return frame


def outcome_strip(rows: list[dict[str, Any]]) -> alt.Chart:
    """One tick per attempt in time order, coloured by outcome, a row per hardware."""
    return alt.Chart(history_frame(rows), title="Outcomes").mark_tick(thickness=4, size=18).encode(
        x=alt.X("ts:T", title=None), y=alt.Y("hardware:N", title=None),
        color=alt.Color("outcome:N", scale=OUTCOME_COLOURS, title=None),
        tooltip=[alt.Tooltip("ts:T", format="%Y-%m-%d %H:%M"), "outcome:N", "worker:N", "run:N", "attempt:Q"])


def duration_trend(rows: list[dict[str, Any]]) -> alt.Chart:
    frame = history_frame(rows).dropna(subset=["duration_s"])
    return alt.Chart(frame, title="Duration (s)").mark_line(point=True).encode(
        x=alt.X("ts:T", title=None), y=alt.Y("duration_s:Q", title="s"), color=alt.Color("hardware:N", title=None),
        tooltip=[alt.Tooltip("ts:T", format="%Y-%m-%d %H:%M"), "duration_s:Q", "outcome:N", "worker:N"])


def series_frame(entry: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(entry["points"], columns=["run_id", "ts", "value"])
    frame["ts"] = pd.to_datetime(frame["ts"], unit="s", utc=True)
    return frame


def changes_frame(entry: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame([{"ts": c["ts"], "change": f"{c['percent']:+.1f} % ({c['direction']})",
                           "direction": c["direction"]} for c in entry.get("changes") or []],
                         columns=["ts", "change", "direction"])
    frame["ts"] = pd.to_datetime(frame["ts"], unit="s", utc=True)
    return frame


def benchmark_chart(entry: dict[str, Any]) -> alt.LayerChart:
    """One series with a rule at each detected change point (red: worse, green: better)."""
    title = f"{entry['benchmark']} on {hardware_label(entry['hardware'])} ({entry['unit']})"
    line = alt.Chart(series_frame(entry), title=title).mark_line(point=True).encode(
        x=alt.X("ts:T", title=None), y=alt.Y("value:Q", title=entry["unit"], scale=alt.Scale(zero=False)),
        tooltip=["run_id:N", alt.Tooltip("ts:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("value:Q", format=".4g")])
    rules = alt.Chart(changes_frame(entry)).mark_rule(strokeDash=[4, 3], size=2).encode(
        x="ts:T", color=alt.Color("direction:N", scale=alt.Scale(domain=["worse", "better"],
                                                                  range=["#d64545", "#2e9e5b"]), title=None),
        tooltip=["change:N"])
    return alt.layer(line, rules)
