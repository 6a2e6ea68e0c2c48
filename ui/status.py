"""The sidebar's freshness line: Live only while updates arrive and are drawn, and how old the view is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import streamlit as st

from ui.fmt import ago, clock
from ui.live import LiveSubscriber

_SLOT_KEY = "dtmon_freshness_slot"
_SHOWN_KEY = "dtmon_data_shown_at"  # the oldest data this run drew
_ARRIVED_KEY = "dtmon_data_arrived_at"  # the newest data this session ever received


@dataclass(frozen=True)
class Slot:
    """Where this run's freshness line goes and what it needs to say it."""

    placeholder: Any
    refresh: int
    live: LiveSubscriber
    probe: Callable[[], tuple[bool, str]]


def attach(placeholder: Any, refresh: int, live: LiveSubscriber, probe: Callable[[], tuple[bool, str]]) -> None:
    """Start a run: forget the last run's data age and draw what is known before the page fetches."""
    st.session_state.pop(_SHOWN_KEY, None)
    st.session_state[_SLOT_KEY] = Slot(placeholder, refresh, live, probe)
    redraw()


def note(at: datetime | None) -> None:
    """The page drew data that left the backend at `at`: the line follows (a page may st.stop() later)."""
    if at is None:
        return
    shown = st.session_state.get(_SHOWN_KEY)
    st.session_state[_SHOWN_KEY] = at if shown is None else min(shown, at)
    st.session_state[_ARRIVED_KEY] = max(at, st.session_state.get(_ARRIVED_KEY) or at)
    redraw()


def redraw() -> None:
    """Draw the line again into its slot; nothing when no router set one up (a page run alone)."""
    slot: Slot | None = st.session_state.get(_SLOT_KEY)
    if slot is None:
        return
    reachable, status = slot.probe()
    with slot.placeholder.container():
        st.markdown(indicator(reachable, slot.live.is_live(), slot.refresh))
        (st.caption if reachable else st.error)(status)
        st.caption(age(reachable, slot.refresh, st.session_state.get(_SHOWN_KEY),
                       st.session_state.get(_ARRIVED_KEY), st.context.timezone))


def indicator(reachable: bool, live: bool, refresh: int) -> str:
    """One bold word for how the view updates; refresh 0 means nothing redraws it."""
    if not reachable:
        return ":material/cloud_off: **Not updating** (backend unreachable)"
    if not refresh:
        return ":material/pause_circle: **Paused** (automatic refresh off)"
    if live:
        return ":material/bolt: **Live (WebSocket)**"
    return f":material/sync: **Polling every {refresh} s**"


def age(reachable: bool, refresh: int, shown: datetime | None, arrived: datetime | None,
        zone: str | None = None, now: datetime | None = None) -> str:
    """How old the data on screen is; paused views give a clock time, which stays true while frozen."""
    if not reachable:
        return (f"Last data arrived {clock(arrived, zone)} ({ago(arrived, now)})" if arrived
                else "No data has arrived yet.")
    moment = shown or arrived
    if moment is None:
        return "Last update: —"
    if not refresh:
        return f"Showing data from {clock(moment, zone)}"
    return f"Last update: {ago(moment, now)} ({clock(moment, zone)})"
