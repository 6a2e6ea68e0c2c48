"""Worker detail's test verdict: suspect or not (Fisher's exact test per hardware) and drained or not."""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
import streamlit as st

from ui import data
from ui.actions import act
from ui.fmt import hardware_label


def verdict(target: data.Backend, token: str, is_admin: bool, worker_id: str) -> None:
    found = data.load(data.fetch, target, token, f"/api/tests/workers/{quote(worker_id, safe='')}")
    st.markdown("**Test verdict**")
    cols = st.columns(2)
    cols[0].metric("Suspect", "yes" if found["suspect"] else "no",
                   help="Fails tests its hardware peers pass, significantly (one-sided Fisher's exact test)")
    drain = found.get("drain")
    cols[1].metric("Drained", "yes" if drain else "no", help="run-tests schedules nothing on a drained worker")
    if drain:
        st.text(f"Drained by {drain['drained_by']} at {drain['drained_at']}: {drain['reason']}")
    if found["verdicts"]:
        st.dataframe(pd.DataFrame([{"hardware": hardware_label(v["hardware"]), "suspect": v["suspect"],
                                    "failed / passed": f"{v['failures']} / {v['passes']}",
                                    "peers failed / passed": f"{v['peer_failures']} / {v['peer_passes']}",
                                    "p-value": None if v["p_value"] is None else f"{v['p_value']:.2e}"}
                                   for v in found["verdicts"]]), hide_index=True, key="worker_verdicts")
    if is_admin:
        drain_control(target, token, worker_id, drained=drain is not None)


def drain_control(target: data.Backend, token: str, worker_id: str, drained: bool) -> None:
    path = f"/api/workers/{quote(worker_id, safe='')}/drain"
    if drained:
        if st.button("Undrain", key="worker_undrain"):
            act(target, token, "DELETE", path, None)
        return
    reason = st.text_input("Drain reason", key="worker_drain_reason")
    if st.button("Drain", key="worker_drain", disabled=not reason.strip()):
        act(target, token, "PUT", path, {"reason": reason.strip()})
