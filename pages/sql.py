"""SQL: one read-only SELECT over the history (admins), with the schema, examples, chart and downloads."""

import io

import pandas as pd
import streamlit as st

from ui import data, session
from ui.api import ApiError
from ui.fmt import escape_markdown
from ui.history_view import result_chart

RESULT_KEY = "sql_result"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def use_example(examples: list[dict]) -> None:
    """Copy the chosen example into the editor."""
    chosen = st.session_state.get("sql_example")
    match = next((e for e in examples if e["title"] == chosen), None)
    if match:
        st.session_state["sql_text"] = match["sql"]


def run_query(target: data.Backend, token: str, sql: str, limit: int) -> None:
    """POST /api/sql; keep the answer or the error for the rest of the run."""
    try:
        st.session_state[RESULT_KEY] = {"ok": target.client.post("/api/sql", token, {"sql": sql, "limit": limit})}
    except ApiError as exc:
        st.session_state[RESULT_KEY] = {"error": exc.message}


def result_frame(answer: dict) -> pd.DataFrame:
    """Rows as a frame; ISO timestamps become real ones so charts get a time axis."""
    frame = pd.DataFrame(answer["rows"], columns=unique_names(answer["columns"]))
    for name, kind in zip(frame.columns, answer["types"]):
        if kind.startswith("TIMESTAMP") or kind == "DATE":
            frame[name] = pd.to_datetime(frame[name], utc=True, errors="coerce")
    return frame


def unique_names(columns: list[str]) -> list[str]:
    """`SELECT 1, 1` is valid SQL but tables and charts need distinct column names."""
    seen: dict[str, int] = {}
    names = []
    for name in columns:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return names


def csv_text(frame: pd.DataFrame) -> str:
    """The shown result as CSV; text cells that a spreadsheet would run as a formula get a leading '."""
    return frame.map(defused).to_csv(index=False)


def defused(cell: object) -> object:
    return f"'{cell}" if isinstance(cell, str) and cell[:1] in FORMULA_STARTS else cell


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """The shown result as Parquet (the result is already capped by the row limit)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def schema_panel(tables: list[dict]) -> None:
    """One table at a time: its meaning and its columns with one line each (keeps results in view)."""
    by_name = {table["table"]: table for table in tables}
    chosen = st.selectbox("Table", list(by_name), key="sql_schema_table")
    if chosen:
        st.caption(by_name[chosen]["description"])
        st.dataframe(pd.DataFrame(by_name[chosen]["columns"]), hide_index=True, placeholder="—", height=250,
                     key="sql_schema_columns")


target, viewer = session.backend(), session.viewer()
st.title("SQL")
if not viewer.is_admin:
    st.warning("Ad-hoc SQL is for admins. Ask an admin for access, or use History and Export.")
    st.stop()

schema = data.load(data.fetch, target, viewer.token, "/api/sql/schema")
examples = schema.get("examples") or []
st.caption("Exactly one read-only SELECT; no file access; a time limit and a row limit apply. "
           "Timestamps are UTC. Credentials tables are not readable.")
editor, reference = st.columns([3, 2])
with reference:
    st.markdown("**Schema**")
    schema_panel(schema.get("tables") or [])
with editor:
    st.selectbox("Example queries", [e["title"] for e in examples], index=None, key="sql_example",
                 placeholder="Pick an example…", on_change=use_example, args=(examples,))
    sql = st.text_area("Query", key="sql_text", height=200, placeholder="SELECT * FROM workers LIMIT 10")
    limit = st.number_input("Row limit", min_value=1, max_value=100_000, value=1000, step=100, key="sql_limit")
    if st.button("Run query", type="primary", key="sql_run"):
        if sql.strip():
            run_query(target, viewer.token, sql, int(limit))
        else:
            st.session_state[RESULT_KEY] = {"error": "Write a SELECT first."}

outcome = st.session_state.get(RESULT_KEY)
if not outcome:
    st.stop()
if "error" in outcome:
    st.error("The query was not run or failed:")
    st.code(outcome["error"], language=None)
    st.stop()

answer = outcome["ok"]
frame = result_frame(answer)
CUT_AT = {"rows": f"the row limit of {answer['limit']:,}", "bytes": f"the size limit of {answer['max_bytes']:,} bytes"}
note = f" (truncated at {CUT_AT[answer['truncated_by']]})" if answer["truncated"] else ""
st.markdown(f"**{answer['row_count']:,} rows**{escape_markdown(note)} in {answer['elapsed_ms']:.1f} ms")
st.dataframe(frame, hide_index=True, placeholder="NULL", key="sql_result_table")
downloads = st.columns(2)
downloads[0].download_button("Download CSV", csv_text(frame), file_name="query.csv", mime="text/csv",
                             key="sql_download_csv", on_click="ignore")
downloads[1].download_button("Download Parquet", parquet_bytes(frame), file_name="query.parquet",
                             mime="application/vnd.apache.parquet", key="sql_download_parquet", on_click="ignore")

numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
if len(frame.columns) >= 2 and numeric and not frame.empty:
    st.subheader("Quick chart")
    cols = st.columns(3)
    x = cols[0].selectbox("x", list(frame.columns), key="sql_chart_x")
    y = cols[1].selectbox("y", numeric, index=len(numeric) - 1, key="sql_chart_y")
    kind = cols[2].selectbox("Chart", ["bar", "line"], key="sql_chart_kind")
    st.altair_chart(result_chart(frame, x, y, kind), width="stretch")
