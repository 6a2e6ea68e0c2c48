"""The alerts banner of every page: unacknowledged firing alerts in at most a few short lines."""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from ui import data
from ui.api import ApiError
from ui.fmt import ago, escape_markdown

ALERTS_PAGE = "pages/alerts.py"
SINGLE_LINES = 2  # up to this many alerts get a line each; more are counted per rule
RULE_LINES = 3  # per-rule lines shown before the rest is only counted
SEVERITY_MARKS = {"critical": "■", "warning": "▲", "info": "●"}
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
# On a phone long messages wrap; past four lines the rest is cut, the Alerts page has it whole.
PHONE_CSS = """<style>@media (max-width: 640px) { .st-key-alerts_banner p {
  display: -webkit-box; -webkit-line-clamp: 4; -webkit-box-orient: vertical; overflow: hidden; } }</style>"""


def needs_attention(alerts: list[dict]) -> list[dict]:
    """Firing alerts nobody has acknowledged yet, most severe first."""
    open_ones = [a for a in alerts if a.get("state", "firing") == "firing" and not a.get("acknowledged_by")]
    return sorted(open_ones, key=lambda a: SEVERITY_ORDER.get(a.get("severity"), 3))


def mark(alert: dict) -> str:
    return SEVERITY_MARKS.get(alert.get("severity"), "●")


def one_line(alert: dict) -> str:
    """Severity mark, rule, current value (the message) and age; worker-supplied text escaped."""
    return (f"{mark(alert)} **{escape_markdown(alert.get('rule_name', ''))}**: "
            f"{escape_markdown(alert.get('message', ''))} · since {ago(alert.get('started_at'))}")


def counted(group: list[dict]) -> str:
    """'4 workers offline' for the offline rule, '3 workers: CPU above 95 %' for other worker rules."""
    first, count = group[0], len(group)
    name = escape_markdown(first.get("rule_name", ""))
    if count == 1:
        return f"{mark(first)} **{name}**: {escape_markdown(first.get('message', ''))}"
    if not str(first.get("scope", "")).startswith("worker:"):
        return f"{mark(first)} {count} × **{name}**"
    if first.get("metric") == "worker_offline":
        return f"{mark(first)} **{count} workers offline**"
    return f"{mark(first)} {count} workers: **{name}**"


def banner_lines(alerts: list[dict]) -> tuple[list[str], int]:
    """The lines to show and how many rules were left for the Alerts page to tell."""
    shown = needs_attention(alerts)
    if len(shown) <= SINGLE_LINES:
        return [one_line(alert) for alert in shown], 0
    groups: dict[object, list[dict]] = {}
    for alert in shown:  # most severe first, so the first rules are the ones to show
        groups.setdefault(alert.get("rule_id"), []).append(alert)
    ordered = list(groups.values())
    return [counted(group) for group in ordered[:RULE_LINES]], max(0, len(ordered) - RULE_LINES)


def firing_alerts(target: data.Backend, token: str) -> list[dict]:
    """From the live snapshot, or the REST route while the socket is not up (the banner must not go blank)."""
    live = target.live.section("alerts")
    if live is not None:
        return live
    try:
        return data.fetch(target, token, "/api/alerts", {"state": "firing", "limit": 500})
    except ApiError:
        return []  # the sidebar already says the backend is unreachable


def show(target: data.Backend, token: str) -> None:
    """Draw the banner; nothing when no alert needs attention."""
    lines, more_rules = banner_lines(firing_alerts(target, token))
    if not lines:
        return
    with st.container(key="alerts_banner"):
        st.html(PHONE_CSS)
        st.error("  \n".join(lines), icon=":material/notifications_active:")
        more = f" (+{more_rules} more rules)" if more_rules else ""
        st.page_link(ALERTS_PAGE, label=f"Open the Alerts page{more}", icon=":material/arrow_forward:")


def await_snapshot(target: data.Backend, settled: Callable[[list[dict]], bool], seconds: float = 3.0) -> None:
    """After an action on alerts, let the pushed snapshot show it before this run draws the banner."""
    st.cache_data.clear()  # the REST fallback must not answer from before the action either
    deadline = time.monotonic() + seconds
    while target.live.is_live() and time.monotonic() < deadline and not settled(target.live.section("alerts") or []):
        time.sleep(0.1)
