"""Network map HTML from the /network payload: pyvis with everything inlined, safe for hostile names."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pyvis.network import Network

from ui.fmt import QUALITY_COLOURS, hardware_label, health_colour, plural

DEFAULT_NODE_LIMIT = 150
_HEALTH_RANK = {"critical": 3, "warning": 2, "unknown": 1, "healthy": 0}
# pyvis "in_line" still links Bootstrap (and maybe more) from CDNs; the map must work offline.
_REMOTE_TAG = re.compile(
    r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*/?>|<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>",
    re.IGNORECASE | re.DOTALL,
)
_EMPTY_HEADING = re.compile(r"<center>\s*<h1>\s*</h1>\s*</center>")
_DEAD_COMMENT = re.compile(r"<!--\s*<link\b.*?-->", re.DOTALL)
# Positions come from ring_positions, so a redraw with the same nodes puts them in the same places.
_OPTIONS = """{
  "physics": {"enabled": false},
  "interaction": {"hover": true, "tooltipDelay": 120, "dragNodes": true},
  "nodes": {"font": {"size": 14}},
  "edges": {"smooth": false}
}"""
_RING_GAP, _NODE_SPACING = 190.0, 100.0
# Redraws (a changed colour is a new page) put dragged nodes back where the viewer left them, per tab.
_KEEP_DRAGGED = """<script>
(function () {
  var key = "dtmon-map-positions-%s", saved = JSON.parse(sessionStorage.getItem(key) || "{}");
  nodes.update(Object.keys(saved).filter(function (id) { return nodes.get(id) !== null; })
    .map(function (id) { return {id: id, x: saved[id].x, y: saved[id].y}; }));
  network.on("dragEnd", function (event) {
    Object.assign(saved, network.getPositions(event.nodes));
    sessionStorage.setItem(key, JSON.stringify(saved));
  });
})();
</script>
</body>"""


@dataclass(frozen=True)
class NetworkMap:
    """The rendered map plus what the page should tell the viewer about it."""

    html: str
    node_count: int
    grouped_by: str | None
    note: str | None


def edge_width(link: dict[str, Any]) -> float:
    """Wider edges for better links so a weak connection catches the eye by contrast."""
    quality = link.get("quality")
    return 1.0 if quality is None else 1.0 + 5.0 * max(0.0, min(1.0, float(quality)))


def node_title(node: dict[str, Any]) -> str:
    """Plain-text hover details; vis-network shows string titles as text, never as HTML."""
    lines = [str(node.get("id")), *([f"host: {node['hostname']}"] if node.get("hostname") else []),
             f"kind: {node.get('kind', 'worker')}",
             f"status: {node.get('status', 'unknown')}", f"health: {node.get('health', 'unknown')}"]
    hardware = node.get("hardware") or []
    if hardware:
        lines.append("hardware: " + ", ".join(hardware_label(h) for h in hardware))
    return "\n".join(lines)


def link_title(link: dict[str, Any]) -> str:
    """Hover text for an edge: measured quality, round trip and bandwidth."""
    rtt = link.get("rtt_ms")
    bandwidth = link.get("bandwidth_bps")
    return "\n".join([
        f"{link.get('source')} → {link.get('target')}",
        f"quality: {link.get('quality_label', 'unknown')}"
        + ("" if link.get("quality") is None else f" ({float(link['quality']):.2f})"),
        "rtt: " + ("—" if rtt is None else f"{float(rtt):.1f} ms"),
        "bandwidth: " + ("—" if bandwidth is None else f"{float(bandwidth) / 1e6:.1f} Mbit/s"),
    ])


def group_key(node: dict[str, Any], group_by: str) -> str:
    """Which group a worker joins when the fleet is too large to draw one node per worker."""
    if group_by == "status":
        return str(node.get("status") or "unknown")
    hardware = [h for h in node.get("hardware") or [] if h != "cpu"]
    return hardware_label(hardware[0]) if hardware else "CPU only"


def grouped_graph(nodes: list[dict[str, Any]], links: list[dict[str, Any]], group_by: str):
    """Collapse workers into one node per group; edges carry the group's mean link quality."""
    workers = [n for n in nodes if n.get("kind") != "coordinator"]
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for worker in workers:
        members[group_key(worker, group_by)].append(worker)
    quality_by_worker = {l["target"]: l.get("quality") for l in links if l.get("source") == "coordinator"}
    group_nodes, group_links = [_coordinator(nodes)], []
    for name, group in sorted(members.items()):
        group_nodes.append(_group_node(name, group))
        group_links.append(_group_link(name, group, quality_by_worker))
    return group_nodes, group_links


def _coordinator(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The coordinator node from the payload, or a plain one when the payload has none."""
    found = [n for n in nodes if n.get("kind") == "coordinator"]
    return found[0] if found else {"id": "coordinator", "label": "coordinator", "kind": "coordinator"}


def _group_node(name: str, group: list[dict[str, Any]]) -> dict[str, Any]:
    """A group node coloured by the worst health inside it."""
    worst = max((m.get("health") or "unknown" for m in group), key=lambda h: _HEALTH_RANK.get(h, 1))
    return {"id": f"group:{name}", "label": f"{name} ({plural(len(group), 'worker')})", "kind": "group",
            "status": plural(len(group), "worker"), "health": worst, "size": 10 + min(40, len(group) ** 0.5)}


def _group_link(name: str, group: list[dict[str, Any]], quality: dict[str, Any]) -> dict[str, Any]:
    """Edge from the coordinator to a group, using the mean of its measured link qualities."""
    measured = [float(quality[m["id"]]) for m in group if quality.get(m["id"]) is not None]
    mean = sum(measured) / len(measured) if measured else None
    label = "unknown" if mean is None else "good" if mean >= 0.7 else "fair" if mean >= 0.4 else "poor"
    return {"source": "coordinator", "target": f"group:{name}", "quality": mean, "quality_label": label}


def build_network_map(network: dict[str, Any], node_limit: int = DEFAULT_NODE_LIMIT,
                      group_by: str = "hardware", dark: bool = False, layout_name: str = "0") -> NetworkMap:
    """Render the map; above node_limit workers are grouped and the note says so."""
    nodes, links = network.get("nodes") or [], network.get("links") or []
    drawn = sum(1 for n in nodes if n.get("kind") != "coordinator")
    fleet = max(drawn, int(network.get("total_workers") or 0))
    grouped, note = None, None
    if drawn > node_limit:
        nodes, links = grouped_graph(nodes, links, group_by)
        grouped = group_by
        note = (f"{fleet:,} workers exceed the map limit of {node_limit:,}: "
                f"they are grouped by {group_by} ({plural(len(nodes) - 1, 'group')}).")
    if fleet > drawn:
        note = (note or "") + f" The backend sent the first {drawn:,} of {fleet:,} workers (sorted by id)."
    return NetworkMap(render_html(nodes, links, dark, layout_name), len(nodes), grouped, note)


def ring_positions(nodes: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """The coordinator in the middle, workers on rings around it in id order within hardware groups."""
    workers = sorted((n for n in nodes if n.get("kind") != "coordinator"),
                     key=lambda n: (group_key(n, "hardware"), str(n["id"])))
    positions = {str(n["id"]): (0.0, 0.0) for n in nodes if n.get("kind") == "coordinator"}
    ring, placed = 1, 0
    while placed < len(workers):
        radius = ring * _RING_GAP
        batch = workers[placed:placed + int(2 * math.pi * radius / _NODE_SPACING)]
        for index, node in enumerate(batch):
            angle = 2 * math.pi * index / len(batch) - math.pi / 2
            positions[str(node["id"])] = (round(radius * math.cos(angle), 1), round(radius * math.sin(angle), 1))
        ring, placed = ring + 1, placed + len(batch)
    return positions


def render_html(nodes: list[dict[str, Any]], links: list[dict[str, Any]], dark: bool = False,
                layout_name: str = "0") -> str:
    """Build the pyvis page with JavaScript inlined and every remote tag removed."""
    # The iframe cannot see Streamlit's theme: labels get a colour readable on the page behind.
    net = Network(height="560px", width="100%", cdn_resources="in_line", bgcolor="#ffffff00",
                  font_color="#e8eaed" if dark else "#262730")
    positions = ring_positions(nodes)
    for node in nodes:
        x, y = positions[str(node["id"])]
        net.add_node(str(node["id"]), x=x, y=y, **_node_style(node))
    for link in links:
        if str(link.get("source")) in positions and str(link.get("target")) in positions:
            net.add_edge(str(link["source"]), str(link["target"]), **_edge_style(link))
    net.set_options(_OPTIONS)
    head, _, tail = strip_remote_resources(_render(net)).rpartition("</body>")  # the template's, the last one
    return head + _KEEP_DRAGGED % re.sub(r"[^\w-]", "", layout_name) + tail


def _node_style(node: dict[str, Any]) -> dict[str, Any]:
    """Colour by health, a larger square for the coordinator, plain-text hover details."""
    is_coordinator = node.get("kind") == "coordinator"
    return {"label": str(node.get("label") or node["id"]), "title": node_title(node),
            "color": health_colour(node.get("health")),
            "shape": "square" if is_coordinator else "dot",
            "size": 28 if is_coordinator else node.get("size", 14)}


def _edge_style(link: dict[str, Any]) -> dict[str, Any]:
    """Edge width and colour both follow the measured connection quality."""
    colour = QUALITY_COLOURS.get(link.get("quality_label") or "unknown", QUALITY_COLOURS["unknown"])
    return {"width": edge_width(link), "color": colour, "title": link_title(link)}


def _render(net: Network) -> str:
    """Render pyvis' template ourselves so its innerHTML tooltip mode can never switch on."""
    # generate_html enables an innerHTML popup whenever a title contains "href"; a worker could.
    nodes, edges, heading, height, width, options = net.get_network_data()
    template = net.templateEnv.get_template(net.path)
    return template.render(
        height=height, width=width, nodes=nodes, edges=edges, heading="", options=options,
        physics_enabled=False, use_DOT=False, dot_lang=None, widget=False, bgcolor=net.bgcolor,
        conf=False, tooltip_link=False, neighborhood_highlight=False, select_menu=False,
        filter_menu=False, notebook=False, cdn_resources="in_line",
    )


def strip_remote_resources(html: str) -> str:
    """Remove every tag that would fetch from the network, and pyvis' empty heading."""
    without_remote = _REMOTE_TAG.sub("", _DEAD_COMMENT.sub("", html))
    return _EMPTY_HEADING.sub("", without_remote)
