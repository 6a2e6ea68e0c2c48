"""Tests: flaky tests ranked per hardware, the outcome matrix, failure groups, suspect workers,
quarantine, and one test's history."""

import pandas as pd
import streamlit as st

from ui import data, paging, results_charts, session
from ui.actions import act
from ui.fmt import HARDWARE_LABELS, hardware_label

VERDICTS = {"flaky": "Flaky", "broken": "Broken", "all": "All", "stable": "Stable", "too_few_runs": "Too few runs"}
FLAKY_COLUMNS = {
    "score": st.column_config.ProgressColumn("Score", min_value=0, max_value=1, format="%.2f"),
    "quarantined": st.column_config.CheckboxColumn("Quarantined"),
}


def filters() -> dict:
    """Hardware, test search, verdict and rows as API query parameters."""
    cols = st.columns([2, 3, 2, 1])
    return {
        "hardware": cols[0].selectbox("Hardware", ["all", *HARDWARE_LABELS], key="tests_hardware",
                                      format_func=lambda h: "all" if h == "all" else hardware_label(h)),
        "search": cols[1].text_input("Search", placeholder="test id", key="tests_search").strip(),
        "verdict": cols[2].selectbox("Verdict", list(VERDICTS), format_func=VERDICTS.get, key="tests_verdict"),
        "limit": cols[3].selectbox("Rows", [25, 50, 100], key="tests_limit"),
    }


def pager(result: data.Page, page_number: int, limit: int, key: str, noun: str) -> None:
    paging.page_input(paging.caption(result, page_number, limit, noun), key)


def flaky_frame(rows: list[dict]) -> pd.DataFrame:
    """Worker-supplied ids stay plain text in the grid."""
    return pd.DataFrame([{
        "test": row["test_id"], "hardware": hardware_label(row["hardware"]), "verdict": row["verdict"],
        "score": row["score"], "runs": row["runs"], "failures": row["failures"], "flips": row["flips"],
        "pass on retry": row["pass_on_retry"], "mixed commits": row["mixed_commit_runs"],
        "last": row["last_outcome"], "quarantined": row["quarantined"],
    } for row in rows])


def matrix_section(target: data.Backend, token: str, params: dict) -> None:
    st.subheader("Outcome matrix")
    result, page_number = paging.fetch(target, token, "/api/tests/matrix", params, "tests_matrix_page")
    if result.rows:
        st.vega_lite_chart(spec=results_charts.matrix_chart(result.rows), width="stretch")
    pager(result, page_number, params["limit"], "tests_matrix_page", "tests")


def failure_groups(target: data.Backend, token: str, params: dict) -> None:
    st.subheader("Failure groups")
    result, page_number = paging.fetch(target, token, "/api/tests/failure-groups", params, "tests_groups_page")
    if not result.rows:
        st.caption("No failures in the suspect window.")
        return
    st.dataframe(pd.DataFrame([{"signature": g["signature"], "hardware": hardware_label(g["hardware"]),
                                "failures": g["failures"], "tests": g["tests"], "workers": g["workers"],
                                "examples": ", ".join(g["examples"])} for g in result.rows]),
                 hide_index=True, key="tests_groups")
    pager(result, page_number, params["limit"], "tests_groups_page", "groups")


def suspects(target: data.Backend, token: str, hardware: str) -> None:
    st.subheader("Suspect workers")
    rows = data.load(data.fetch_page, target, token, "/api/tests/suspect-workers", {"hardware": hardware}).rows
    if not rows:
        st.caption("No worker fails tests that its hardware peers pass (one-sided Fisher's exact test).")
        return
    st.dataframe(pd.DataFrame([{"worker": r["worker_id"], "hardware": hardware_label(r["hardware"]),
                                "failure rate": r["failure_rate"], "peer failure rate": r["peer_failure_rate"],
                                "failed / passed": f"{r['failures']} / {r['passes']}",
                                "peers failed / passed": f"{r['peer_failures']} / {r['peer_passes']}",
                                "p-value": f"{r['p_value']:.2e}", "drained": r["drained"]} for r in rows]),
                 hide_index=True, key="tests_suspects")


def quarantine(target: data.Backend, viewer: session.Viewer) -> None:
    st.subheader("Quarantined tests")
    rows = data.load(data.fetch, target, viewer.token, "/api/tests/quarantine")
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="tests_quarantine")
    else:
        st.caption("No test is quarantined.")
    if viewer.is_admin:
        quarantine_form(target, viewer.token, rows)


def quarantine_form(target: data.Backend, token: str, rows: list[dict]) -> None:
    with st.form("tests_quarantine_form", clear_on_submit=True):
        cols = st.columns([3, 1, 3])
        test_id = cols[0].text_input("Test id", key="tests_q_test")
        hardware = cols[1].selectbox("Hardware", ["all", *HARDWARE_LABELS], key="tests_q_hardware")
        reason = cols[2].text_input("Reason", key="tests_q_reason")
        if st.form_submit_button("Quarantine"):
            body = {"test_id": test_id.strip(), "reason": reason.strip(), "hardware": None if hardware == "all" else hardware}
            act(target, token, "POST", "/api/tests/quarantine", body)
    active = [(row["test_id"], row["hardware"]) for row in rows]
    chosen = st.selectbox("Release", [None, *active], key="tests_release",
                          format_func=lambda q: "choose a quarantined test…" if q is None else f"{q[0]} ({q[1] or 'all'})")
    if chosen and st.button("Release", key="tests_release_button"):
        act(target, token, "POST", "/api/tests/quarantine/release", {"test_id": chosen[0], "hardware": chosen[1] or None})


def history(target: data.Backend, token: str, rows: list[dict]) -> None:
    """The chosen test's attempts: an outcome strip per hardware and its duration trend."""
    chosen = st.selectbox("Open test", [None, *dict.fromkeys(row["test_id"] for row in rows)], key="tests_open",
                          format_func=lambda t: "choose a test…" if t is None else t)
    if not chosen:
        return
    attempts = data.load(data.fetch, target, token, "/api/tests/history", {"test_id": chosen, "limit": 300})
    st.subheader("Test history")
    st.text(chosen)
    st.altair_chart(results_charts.outcome_strip(attempts), width="stretch")
    st.altair_chart(results_charts.duration_trend(attempts), width="stretch")
    failed = [a for a in attempts if a.get("error")]
    if failed:
        st.markdown("**Newest failure**")
        st.code(failed[-1]["error"], language=None)


target, viewer = session.backend(), session.viewer()
st.title("Tests")
params = filters()
query = {"hardware": params["hardware"], "search": params["search"], "limit": params["limit"]}
flaky, page_number = paging.fetch(target, viewer.token, "/api/tests/flaky", {**query, "verdict": params["verdict"]},
                           "tests_page")
if flaky.total == 0 and not data.load(data.fetch_page, target, viewer.token, "/api/tests/flaky", {"limit": 1}).total:
    st.info("No test results yet — run your suite with `python -m backend run-tests tests/ --scheduler ...`, "
            "or upload a JUnit report: `python -m backend upload-junit report.xml --run-id ci-1 --hardware cuda`.")
    st.stop()

st.subheader(f"{VERDICTS[params['verdict']]} tests, highest score first")
if flaky.rows:
    st.dataframe(flaky_frame(flaky.rows), hide_index=True, column_config=FLAKY_COLUMNS, key="tests_flaky")
else:
    st.caption("No test × hardware pair matches these filters.")
pager(flaky, page_number, params["limit"], "tests_page", "test × hardware pairs")
history(target, viewer.token, flaky.rows)
matrix_section(target, viewer.token, query)
failure_groups(target, viewer.token, query)
suspects(target, viewer.token, params["hardware"])
quarantine(target, viewer)
