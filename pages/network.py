"""Network: draggable map of coordinator and workers, coloured by health and link quality."""

import pandas as pd
import streamlit as st

from ui import data, session
from ui.netmap import DEFAULT_NODE_LIMIT, build_network_map

target, viewer = session.backend(), session.viewer()
st.title("Network")
network = data.load(data.section, target, viewer.token, "network") or {}
workers = [n for n in network.get("nodes") or [] if n.get("kind") != "coordinator"]
if not workers:
    st.info("No workers have reported yet — the map fills in as agents register and send heartbeats.")
    st.stop()

cols = st.columns([2, 3])
group_by = cols[0].radio("Group large fleets by", ["hardware", "status"], horizontal=True, key="network_group")
limit = cols[1].slider("Draw workers individually up to", 20, 500, DEFAULT_NODE_LIMIT, step=10,
                       key="network_limit")
layout = st.session_state.setdefault("network_layout", 0)
network_map = build_network_map(network, node_limit=limit, group_by=group_by,
                                dark=st.context.theme.type == "dark", layout_name=str(layout))
if network_map.note:
    st.warning(network_map.note, icon="🗂️")
st.caption("Node colour: health (green healthy, orange warning, red critical, grey unknown). "
           "Edge width and colour: connection quality. Drag nodes to rearrange (kept in this tab across "
           "refreshes); hover for details.")
if st.button("Reset node positions", key="network_reset_layout"):
    st.session_state["network_layout"] = layout + 1  # a new layout name: no dragged positions yet
    st.rerun()
st.iframe(network_map.html, height=600)

links = network.get("links") or []
if links:
    st.markdown("**Links, weakest first**")
    frame = pd.DataFrame(links, columns=["source", "target", "quality", "quality_label", "rtt_ms", "bandwidth_bps"])
    st.dataframe(frame.sort_values("quality", na_position="first"), hide_index=True,
                 placeholder="—", key="network_links",
                 column_config={"quality": st.column_config.ProgressColumn("Quality", min_value=0, max_value=1),
                                "quality_label": "Label", "rtt_ms": "RTT (ms)", "bandwidth_bps": "Bandwidth (bit/s)"})
