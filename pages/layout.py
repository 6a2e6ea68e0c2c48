"""Layout: which overview panels and table columns you see, in order; admins set everyone's default."""

import streamlit as st

from ui import layouts, session
from ui.layouts import COLUMN_LABELS, PANEL_LABELS

SOURCES = {"own": "You are using your own layout.", "default": "You are using the default layout an admin set.",
           "built-in": "You are using the built-in default layout."}
FIELDS = {"overview": ("Overview panels", PANEL_LABELS), "worker_columns": ("Worker table columns", COLUMN_LABELS),
          "task_columns": ("Task table columns", COLUMN_LABELS)}


def choices_form(effective: dict, is_admin: bool) -> tuple[dict, str] | None:
    """Ordered multiselects (the order entries are picked in is the order shown); (layout, route) on submit."""
    with st.form("layout_form", border=False):
        chosen = {field: st.multiselect(label, effective["choices"][field], default=effective["layout"][field],
                                        format_func=names.get, key=f"layout_{field}")
                  for field, (label, names) in FIELDS.items()}
        for table in ("worker_columns", "task_columns"):
            chosen[table] = chosen[table] if "id" in chosen[table] else ["id", *chosen[table]]
        st.caption("Entries are shown in the order listed here: remove one and add it again to move it to "
                   "the end. Tables always keep their ID column.")
        mine = st.form_submit_button("Save my layout", type="primary")
        everyone = is_admin and st.form_submit_button("Save as default for everyone")
    if everyone:
        return chosen, "/api/layout/default"
    return (chosen, "/api/layout") if mine else None


def apply(method: str, path: str, layout: dict | None = None) -> None:
    """Save or reset, then redraw every widget from what the server now holds."""
    if layouts.change(target, viewer.token, method, path, layout):
        for field in FIELDS:
            st.session_state.pop(f"layout_{field}", None)
        st.rerun()


target, viewer = session.backend(), session.viewer()
st.title("Layout")
effective = layouts.current(target, viewer.token)
st.caption(SOURCES[effective["source"]])
submitted = choices_form(effective, viewer.is_admin)
if submitted:
    apply("PUT", submitted[1], submitted[0])
if effective["source"] == "own" and st.button("Reset to default", key="layout_reset"):
    apply("DELETE", "/api/layout")
if viewer.is_admin and layouts.default(target, viewer.token)["source"] == "default" and \
        st.button("Restore the built-in default for everyone", key="layout_reset_default"):
    apply("DELETE", "/api/layout/default")
