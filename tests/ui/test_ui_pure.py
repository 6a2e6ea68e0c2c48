"""Pure dashboard helpers: formatting, chart data, network map HTML (offline and hostile-name safe)."""

import re
from datetime import datetime, timedelta, timezone

from ui import charts, status
from ui.data import reporter_address
from ui.fmt import clock, escape_markdown, gigabytes, hardware_label, plural, priority_mark, trend_delta
from ui.live import merge_update
from ui.netmap import build_network_map, group_key, ring_positions, strip_remote_resources

HOSTILE = "<img src=x onerror=alert(1)>"


def test_trend_delta_colours_follow_fleet_status_not_arrow_direction():
    assert trend_delta({"direction": "up", "value": 2, "status": "good"}) == ("+2", "normal")
    assert trend_delta({"direction": "down", "value": -2.5, "status": "bad"}) == ("-2.5", "normal")
    assert trend_delta({"direction": "up", "value": 3, "status": "bad"}) == ("+3", "inverse")
    assert trend_delta({"direction": "down", "value": -1, "status": "good"}) == ("-1", "inverse")
    assert trend_delta({"direction": "flat", "value": 0, "status": "neutral"}) == (None, "off")  # no "+0"
    assert trend_delta({"direction": "up", "value": 0.0, "status": "good"}) == (None, "off")
    assert trend_delta(None) == (None, "off")


def test_counts_clocks_and_sizes_read_as_words():
    assert plural(1, "worker") == "1 worker" and plural(2, "worker") == "2 workers"
    assert plural(1234, "task") == "1,234 tasks" and plural(0, "group") == "0 groups"
    moment = datetime(2026, 12, 4, 15, 7, 9, tzinfo=timezone.utc)
    assert clock(moment) == "15:07:09 UTC" and clock(moment, "Europe/Berlin") == "16:07:09"
    assert clock(moment, "Not/AZone") == "15:07:09 UTC" and clock(None) == "—"
    assert gigabytes(12.0) == "12 GB" and gigabytes(62.75) == "62.8 GB" and gigabytes(None) == "—"
    assert charts.time_x().to_dict()["axis"]["format"]["hours"] == "%H:%M"  # 24-hour axis labels


def test_freshness_says_paused_live_polling_or_when_data_last_arrived():
    now = datetime(2026, 12, 4, 15, 7, 9, tzinfo=timezone.utc)
    shown = now - timedelta(seconds=3)
    assert "Paused" in status.indicator(True, True, 0) and "Live" not in status.indicator(True, True, 0)
    assert "Live (WebSocket)" in status.indicator(True, True, 5)
    assert "Polling every 5 s" in status.indicator(True, False, 5)
    assert "unreachable" in status.indicator(False, False, 5)
    assert status.age(True, 5, shown, shown, now=now) == "Last update: 3 s ago (15:07:06 UTC)"
    assert status.age(True, 0, shown, shown, now=now) == "Showing data from 15:07:06 UTC"
    assert status.age(False, 5, None, shown - timedelta(minutes=4), now=now) == \
        "Last data arrived 15:03:06 UTC (4 min ago)"
    assert status.age(False, 5, None, None, now=now) == "No data has arrived yet."


def test_reporter_address_is_the_server_the_browser_reached():
    assert reporter_address("", "http://monitor.lab:9000/workers?x=1", 9000) == "http://monitor.lab:9000"
    assert reporter_address("https://api.lab/", "http://monitor.lab:9000/", 9000) == "https://api.lab"
    assert reporter_address("", None, 8123) == "http://<this server>:8123"


def test_labels_and_priority():
    assert hardware_label("cuda") == "CUDA" and hardware_label("OpenVINO") == "OpenVINO"
    assert hardware_label("tpu") == "tpu"
    assert priority_mark(9) == "▲▲▲ 9 urgent" and priority_mark(0) == "· 0"


def test_escape_markdown_neutralises_html_and_links():
    escaped = escape_markdown(HOSTILE + " [x](javascript:alert(1))")
    assert not re.search(r"(?<!\\)[<\[\]()]", escaped)  # every markup character is backslash-escaped


def test_resource_chart_holds_average_and_maximum_series():
    points = [{"ts": "2026-11-29T08:00:00Z", "cpu_avg": 30.0, "cpu_max": 80.0, "memory_avg": 40.0,
               "memory_max": 70.0}, {"ts": "2026-11-29T08:01:00Z", "cpu_avg": 35.0, "cpu_max": None}]
    frame = charts.resource_chart(points, "cpu", "CPU").data
    assert sorted(frame["series"].unique()) == ["Average", "Maximum"]
    assert frame["value"].tolist() == [30.0, 80.0, 35.0]  # the missing maximum is dropped, not zeroed


def test_tasks_by_status_keeps_fixed_order_and_new_statuses():
    frame = charts.tasks_by_status_frame({"completed": 35, "failed": 2, "paused": 1})
    assert frame["status"].tolist()[:4] == ["pending", "running", "completed", "failed"]
    assert dict(zip(frame["status"], frame["tasks"]))["paused"] == 1


def test_hardware_chart_groups_available_and_total():
    frame = charts.hardware_chart([{"type": "cuda", "label": "CUDA", "available": 3, "total": 4}]).data
    assert frame.to_dict("records") == [{"hardware": "CUDA", "measure": "available", "count": 3},
                                        {"hardware": "CUDA", "measure": "total", "count": 4}]


def _network(workers: int, name: str = "w") -> dict:
    nodes = [{"id": "coordinator", "label": "coordinator", "kind": "coordinator", "health": "healthy"}]
    links = []
    for i in range(workers):
        hardware = ["cpu", "cuda"] if i % 2 else ["cpu"]
        nodes.append({"id": f"{name}{i}", "label": f"{name}{i}", "kind": "worker", "status": "active",
                      "health": "critical" if i == 3 else "healthy", "hardware": hardware})
        links.append({"source": "coordinator", "target": f"{name}{i}", "quality": 0.9, "quality_label": "good"})
    return {"nodes": nodes, "links": links}


def test_network_map_is_offline_and_escapes_hostile_names():
    network = _network(2)
    network["nodes"][1]["label"] = HOSTILE + "</script><script>alert(2)</script> href"
    result = build_network_map(network)
    assert result.note is None and result.node_count == 3
    assert not re.search(r"<(script|link)\b[^>]*(src|href)=\"https?://", result.html)
    assert "bootstrap" not in result.html.lower()
    assert HOSTILE not in result.html and "</script><script>alert(2)" not in result.html
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in result.html
    assert "popup.innerHTML" not in result.html  # pyvis' HTML tooltip mode stays off even with "href"


def test_network_map_positions_depend_only_on_the_set_of_nodes():
    network = _network(40)
    first = ring_positions(network["nodes"])
    recoloured = [dict(node, health="warning") for node in reversed(network["nodes"])]
    assert ring_positions(recoloured) == first  # same nodes, other colours and order: same places
    assert first["coordinator"] == (0.0, 0.0) and len(set(first.values())) == 41  # nobody on top of another
    result = build_network_map(network, layout_name="2<x>")
    assert '"physics": {"enabled": false}' in result.html and '"x": %s' % first["w0"][0] in result.html
    assert "dtmon-map-positions-2x" in result.html  # dragged positions are kept per layout, name sanitised


def test_network_map_groups_large_fleets_and_says_so():
    result = build_network_map(_network(300), node_limit=100, group_by="hardware")
    assert result.grouped_by == "hardware" and result.node_count == 3  # coordinator + CPU only + CUDA
    assert "300 workers exceed the map limit of 100" in result.note
    assert "CUDA (150 workers)" in result.html and "CPU only (150 workers)" in result.html
    assert group_key({"status": "busy"}, "status") == "busy"


def test_strip_remote_resources_removes_cdn_tags_only():
    html = ('<link href="https://cdn.example/x.css" rel="stylesheet" /><script>var a=1;</script>'
            '<script src="https://cdn.example/x.js" crossorigin="anonymous"></script>')
    assert strip_remote_resources(html) == "<script>var a=1;</script>"


def test_merge_update_full_replaces_partial_merges():
    snapshot = merge_update({}, {"full": True, "generated_at": "t1", "cluster": {"a": 1}, "workers": [1]})
    snapshot = merge_update(snapshot, {"full": False, "generated_at": "t2", "workers": [2]})
    assert snapshot == {"cluster": {"a": 1}, "workers": [2], "generated_at": "t2"}
    assert merge_update(snapshot, {"full": True, "hardware": []}) == {"hardware": [], "generated_at": None}


def firing(rule_id, rule_name, scope, severity="critical", metric="worker_offline", **extra):
    return {"id": hash((rule_id, scope)), "rule_id": rule_id, "rule_name": rule_name, "scope": scope,
            "severity": severity, "metric": metric, "state": "firing", "message": f"{scope} is offline",
            "started_at": "2026-12-04T02:00:00Z", "acknowledged_by": None} | extra


def test_banner_shows_unacknowledged_alerts_one_line_each_up_to_two():
    from ui.alerts_banner import banner_lines
    two = [firing(1, "Worker offline", "worker:a"), firing(1, "Worker offline", f"worker:{HOSTILE}"),
           firing(1, "Worker offline", "worker:c", acknowledged_by="alice")]
    lines, more = banner_lines(two)
    assert len(lines) == 2 and more == 0 and "\\<img" in lines[1]  # escaped: drawn as text
    assert lines[0].startswith("■ **Worker offline**: worker\\:a is offline · since")
    assert banner_lines([two[2]]) == ([], 0)


def test_banner_counts_per_rule_beyond_two_and_stays_a_few_lines():
    from ui.alerts_banner import RULE_LINES, banner_lines
    alerts = [firing(1, "Worker offline", f"worker:w{i}") for i in range(4)]
    alerts += [firing(2, "CPU above 95 %", f"worker:w{i}", "warning", "worker_cpu") for i in range(3)]
    alerts += [firing(3, "Success rate below 80 %", "cluster", metric="cluster_success_rate",
                      message="success rate over the last 15 min is 70.0 %")]
    alerts += [firing(4 + i, f"rule {i}", "cluster", "info", "pending_tasks") for i in range(3)]
    lines, more = banner_lines(alerts)
    assert lines == ["■ **4 workers offline**",
                     "■ **Success rate below 80 %**: success rate over the last 15 min is 70\\.0 %",
                     "▲ 3 workers: **CPU above 95 %**"]
    assert len(lines) == RULE_LINES and more == 3
