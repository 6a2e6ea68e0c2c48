"""Benchmarks: each series per hardware with its change points marked; changes and their triage."""

import pandas as pd
import streamlit as st

from ui import data, paging, results_charts, session
from ui.actions import act
from ui.fmt import HARDWARE_LABELS, hardware_label

STATES = ["all", "untriaged", "regression", "expected"]


def filters() -> dict:
    cols = st.columns([3, 2, 2, 1])
    return {
        "search": cols[0].text_input("Search", placeholder="benchmark name", key="bench_search").strip(),
        "hardware": cols[1].selectbox("Hardware", ["all", *HARDWARE_LABELS], key="bench_hardware",
                                      format_func=lambda h: "all" if h == "all" else hardware_label(h)),
        "state": cols[2].selectbox("Triage state", STATES, key="bench_state"),
        "limit": cols[3].selectbox("Series", [6, 12, 24], key="bench_limit"),
    }


def changes_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "benchmark": c["benchmark"], "hardware": hardware_label(c["hardware"]), "change": f"{c['percent']:+.1f} %",
        "direction": c["direction"], "before": round(c["before"], 4), "after": round(c["after"], 4), "unit": c["unit"],
        "first run after": c["change_run"], "state": c["state"], "triaged by": c.get("triaged_by"),
        "triaged at run": c.get("triaged_run"),
    } for c in rows])


def triage_form(target: data.Backend, token: str, rows: list[dict]) -> None:
    """Admins mark a change expected or a regression (or back to untriaged)."""
    keys = {f"{c['benchmark']} on {hardware_label(c['hardware'])} at {c['change_run']} ({c['percent']:+.1f} %)": c
            for c in rows}
    cols = st.columns([4, 2, 1])
    chosen = cols[0].selectbox("Change", [None, *keys], key="bench_triage_change",
                               format_func=lambda k: "choose a change…" if k is None else k)
    state = cols[1].selectbox("Triage", ["regression", "expected", "untriaged"], key="bench_triage_state")
    if chosen and cols[2].button("Set", key="bench_triage_set"):
        change = keys[chosen]
        body = {"benchmark": change["benchmark"], "hardware": change["hardware"], "change_run": change["change_run"],
                "state": state}
        act(target, token, "PUT", "/api/benchmarks/changes/triage", body)


target, viewer = session.backend(), session.viewer()
st.title("Benchmarks")
params = filters()
series_query = {"search": params["search"], "hardware": params["hardware"], "limit": params["limit"]}
result, page_number = paging.fetch(target, viewer.token, "/api/benchmarks/", series_query, "bench_page")
if result.total == 0:
    filtered = params["search"] or params["hardware"] != "all"
    st.info("No benchmark series matches these filters." if filtered else
            "No benchmark results yet — send `benchmark_result` events (SDK: `MonitoringClient.benchmark_result`).")
    st.stop()

changes = data.load(data.fetch_page, target, viewer.token, "/api/benchmarks/changes",
                    {"search": params["search"], "hardware": params["hardware"], "state": params["state"],
                     "limit": 1000}).rows
st.subheader("Detected changes, newest first")
if changes:
    st.dataframe(changes_frame(changes), hide_index=True, key="bench_changes")
    if viewer.is_admin:
        triage_form(target, viewer.token, changes)
else:
    st.caption("No change point in these series.")

pages = paging.caption(result, page_number, params["limit"], "series")
columns = st.columns(2)
for index, entry in enumerate(result.rows):
    columns[index % 2].altair_chart(results_charts.benchmark_chart(entry), width="stretch")
paging.page_input(pages, "bench_page")
