"""Server-side paging shared by the list pages: fetch one page, say where the viewer is, move."""

from __future__ import annotations

import streamlit as st

from ui import data
from ui.tables import count_caption


def fetch(target: data.Backend, token: str, path: str, params: dict, key: str) -> tuple[data.Page, int]:
    """One page of a list, back to page 1 when new filters leave it empty."""
    page_number = st.session_state.get(key, 1)
    result = data.load(data.fetch_page, target, token, path, {**params, "offset": (page_number - 1) * params["limit"]})
    if page_number > 1 and not result.rows:
        st.session_state[key] = page_number = 1
        result = data.load(data.fetch_page, target, token, path, {**params, "offset": 0})
    return result, page_number


def caption(result: data.Page, page_number: int, limit: int, noun: str) -> int:
    """Draws 'N of M' and returns the number of pages."""
    pages = max(1, -(-result.total // limit))
    st.caption(count_caption(result.total, len(result.rows), page_number, pages, noun))
    return pages


def page_input(pages: int, key: str) -> None:
    if pages > 1:
        st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, key=key)
