"""Hardware: available vs total workers per hardware type, as grouped bars and a table."""

import pandas as pd
import streamlit as st

from ui import charts, data, session

target, viewer = session.backend(), session.viewer()
st.title("Hardware")
rows = data.load(data.section, target, viewer.token, "hardware") or []
if not rows:
    st.info("No hardware is known yet — each worker reports its hardware when it registers.")
    st.stop()

st.altair_chart(charts.hardware_chart(rows), width="stretch")
table = pd.DataFrame([{
    "hardware": row.get("label") or row["type"], "available": row.get("available", 0), "total": row.get("total", 0),
    "available %": round(100.0 * row.get("available", 0) / row["total"], 1) if row.get("total") else None,
} for row in rows])
st.dataframe(table, hide_index=True, placeholder="—", key="hardware_table",
             column_config={"available %": st.column_config.ProgressColumn("Available", format="%.0f%%",
                                                                          min_value=0, max_value=100)})
st.caption("Available: the worker is online and below the saturation CPU threshold.")
