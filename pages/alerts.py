"""Alerts: what fires now (acknowledge it), the history, and the rules (admins manage them)."""

import pandas as pd
import streamlit as st

from ui import alerts_banner, data, session
from ui.api import ApiError
from ui.fmt import ago, escape_markdown

SEVERITY_MARKS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
EMPTY_RULE = {"name": "", "metric": "worker_cpu", "comparison": ">", "threshold": 90.0, "for_seconds": 300.0,
              "window_seconds": 900.0, "scope_kind": "all", "scope_value": "", "severity": "warning",
              "enabled": True, "webhook_url": ""}


def call(target: data.Backend, token: str, method: str, path: str, body: dict | None = None):
    """Write actions; errors become a message on the page instead of a traceback."""
    try:
        return target.client._call(method, path, token=token, json=body) if body is not None else \
            target.client._call(method, path, token=token)
    except ApiError as exc:
        st.session_state["alerts_error"] = exc.message
        return None


def firing_row(target: data.Backend, token: str, alert: dict) -> None:
    """One firing alert with its acknowledge button; worker-supplied text stays escaped."""
    cols = st.columns([6, 2, 2])
    mark = SEVERITY_MARKS.get(alert["severity"], "⚪")
    cols[0].markdown(f"{mark} **{escape_markdown(alert['rule_name'])}** · {escape_markdown(alert['scope'])}  \n"
                     f"{escape_markdown(alert.get('message') or '')}")
    cols[1].caption(f"since {ago(alert['started_at'])}")
    if alert.get("acknowledged_by"):
        cols[2].caption(f"acknowledged by {escape_markdown(alert['acknowledged_by'])}")
    else:
        cols[2].button("Acknowledge", key=f"ack_{alert['id']}", on_click=acknowledge,
                       args=(target, token, alert["id"]))


def acknowledge(target: data.Backend, token: str, alert_id: int) -> None:
    """Button callback: acknowledge, and draw this run's banner without the alert."""
    if call(target, token, "POST", f"/api/alerts/{alert_id}/ack", {}) is not None:
        alerts_banner.await_snapshot(target, lambda alerts: all(
            alert["id"] != alert_id or alert.get("acknowledged_by") for alert in alerts))


def history_frame(rows: list[dict]) -> pd.DataFrame:
    """Fired and resolved alerts, newest first."""
    return pd.DataFrame([{
        "state": row["state"], "severity": row["severity"], "rule": row["rule_name"], "scope": row["scope"],
        "started": row["started_at"], "ended": row.get("ended_at"),
        "message": row.get("message"), "acknowledged by": row.get("acknowledged_by"),
    } for row in rows])


def rule_form(meta: dict, rule: dict, key: str) -> dict | None:
    """The fields of one rule; returns them when submitted."""
    with st.form(key):
        name = st.text_input("Name", rule["name"])
        cols = st.columns(3)
        metrics = list(meta["metrics"])
        metric = cols[0].selectbox("Metric", metrics, index=metrics.index(rule["metric"]),
                                   format_func=lambda m: meta["metrics"][m])
        comparison = cols[1].selectbox("Comparison", meta["comparisons"], index=meta["comparisons"].index(rule["comparison"]))
        threshold = cols[2].number_input("Threshold", value=float(rule["threshold"]))
        cols = st.columns(3)
        for_seconds = cols[0].number_input("For (seconds)", min_value=0.0, value=float(rule["for_seconds"]))
        window = cols[1].number_input("Window (seconds, rate metrics)", min_value=1.0, value=float(rule["window_seconds"]))
        severity = cols[2].selectbox("Severity", meta["severities"], index=meta["severities"].index(rule["severity"]))
        cols = st.columns(3)
        scope_kind = cols[0].selectbox("Scope", ["all", "worker", "hardware", "type"],
                                       index=["all", "worker", "hardware", "type"].index(rule["scope_kind"]))
        scope_value = cols[1].text_input("Scope value (worker id, hardware or task type)", rule.get("scope_value") or "")
        enabled = cols[2].checkbox("Enabled", value=bool(rule["enabled"]))
        webhook = st.text_input("Webhook URL (optional; firing and resolved events are POSTed as JSON)",
                                rule.get("webhook_url") or "")
        if not st.form_submit_button("Save rule", type="primary"):
            return None
    return {"name": name, "metric": metric, "comparison": comparison, "threshold": threshold,
            "for_seconds": for_seconds, "window_seconds": window, "severity": severity, "scope_kind": scope_kind,
            "scope_value": scope_value.strip() or None, "enabled": enabled, "webhook_url": webhook.strip() or None}


def rules_admin(target: data.Backend, token: str, rules: list[dict]) -> None:
    """Add, edit, enable/disable and delete rules (admins only)."""
    meta = data.load(target.client.get, "/api/alerts/meta", token)
    choices = {f"#{r['id']} {r['name']}": r for r in rules}
    picked = st.selectbox("Edit a rule", ["New rule", *choices], key="alerts_rule_pick")
    current = choices.get(picked, EMPTY_RULE)
    submitted = rule_form(meta, {**EMPTY_RULE, **current}, key=f"rule_form_{current.get('id', 'new')}")
    if submitted is not None:
        saved = (call(target, token, "PATCH", f"/api/alerts/rules/{current['id']}", submitted) if "id" in current
                 else call(target, token, "POST", "/api/alerts/rules", submitted))
        if saved:
            st.rerun()
    if "id" in current and st.button("Delete this rule", key=f"delete_rule_{current['id']}"):
        call(target, token, "DELETE", f"/api/alerts/rules/{current['id']}")
        st.rerun()


target, viewer = session.backend(), session.viewer()
st.title("Alerts")
if message := st.session_state.pop("alerts_error", None):
    st.error(escape_markdown(message))

firing = data.load(target.client.get, "/api/alerts", viewer.token, {"state": "firing", "limit": 200})
st.subheader(f"Firing now ({len(firing)})")
if not firing:
    st.success("No alert is firing.")
for alert in firing:
    firing_row(target, viewer.token, alert)

st.subheader("History")
history = data.load(target.client.get, "/api/alerts", viewer.token, {"limit": 200})
if history:
    st.dataframe(history_frame(history), hide_index=True, placeholder="—", key="alerts_history")
else:
    st.caption("No alert has fired yet.")

st.subheader("Rules")
rules = data.load(target.client.get, "/api/alerts/rules", viewer.token)
st.dataframe(pd.DataFrame(rules).drop(columns=["created_at", "updated_at"], errors="ignore"), hide_index=True,
             placeholder="—", key="alerts_rules")
if viewer.is_admin:
    rules_admin(target, viewer.token, rules)
    deliveries = data.load(target.client.get, "/api/alerts/deliveries", viewer.token, {"limit": 50})
    if deliveries:
        st.subheader("Webhook deliveries")
        st.dataframe(pd.DataFrame(deliveries), hide_index=True, placeholder="—", key="alerts_deliveries")
else:
    st.caption("Rules are managed by admins.")
