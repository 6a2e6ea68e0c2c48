"""Admin actions from a page: send, then either say why not (never a traceback) or redraw with fresh data."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import data
from ui.api import ApiError


def act(target: data.Backend, token: str, method: str, path: str, body: dict[str, Any] | None) -> None:
    """On success the shared caches are cleared and the page reruns, so it shows the change."""
    try:
        target.client.action(method, path, token, body)
    except ApiError as exc:
        st.error(f"Not done: {exc.message}")
        return
    st.cache_data.clear()
    st.rerun()
