"""Every dashboard page in AppTest against a real backend seeded with the scripted fleet."""

import json
import time

import httpx
import pyarrow as pa
import pytest

from support import bearer
from ui import data
from tests.ui.conftest import dashboard
from tests.ui.scripted_fleet import EXPECTED, HOSTILE_NAME


def charts(app) -> dict:
    """Altair charts on the page by title, each with its data as rows."""
    found = {}
    for element in app.main.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        rows = [r for ds in element.proto.datasets
                for r in pa.ipc.open_stream(ds.data.data).read_all().to_pylist()]
        title = spec.get("title")
        found[title["text"] if isinstance(title, dict) else title] = rows
    return found


def run_page(app, path: str):
    """Open one page (after a first run through the router) and fail on any uncaught exception."""
    app.run()
    app.switch_page(path)
    app.run()
    assert not app.exception, app.exception
    return app


def test_login_form_signs_in_and_rejects_a_wrong_password(seeded_backend, monkeypatch):
    app = dashboard(monkeypatch, seeded_backend.url)
    app.run()
    assert app.title[0].value == "Cluster monitoring" and not app.metric
    app.text_input[0].input("admin")
    app.text_input[1].input("not-the-password")
    app.button[0].click().run()
    assert [e.value for e in app.error] == ["Wrong username or password."]
    app.text_input[1].input(seeded_backend.admin_password)
    app.button[0].click().run()
    assert app.title[0].value == "Cluster overview"
    assert app.session_state["dtmon_auth"]["role"] == "admin"


def test_overview_shows_metrics_and_charts(admin_app):
    admin_app.run()
    metrics = {m.label: m.value for m in admin_app.metric}
    assert metrics["Active workers"] == str(EXPECTED["active_workers"])
    assert metrics["Total tasks"] == str(EXPECTED["total_tasks"])
    assert metrics["Success rate"] == f"{EXPECTED['success_rate']:.1f} %"
    found = charts(admin_app)
    by_status = {r["status"]: r["tasks"] for r in found["Tasks by status"]}
    assert by_status["pending"] == EXPECTED["pending"] and by_status["running"] == EXPECTED["running"]
    assert by_status["completed"] == EXPECTED["completed"] and by_status["failed"] == 1
    cpu = found["CPU usage across workers"]
    assert {r["series"] for r in cpu} == {"Average", "Maximum"}
    assert max(r["value"] for r in cpu if r["series"] == "Maximum") == pytest.approx(97.0)
    assert "Memory usage across workers" in found


def test_workers_search_filter_and_detail(admin_app):
    app = run_page(admin_app, "pages/workers.py")
    assert len(app.dataframe[0].value) == EXPECTED["total_workers"]
    app.text_input(key="workers_search").input("gpu-box").run()
    assert sorted(app.dataframe[0].value["id"]) == ["worker-001", "worker-002"]
    app.text_input(key="workers_search").input("").run()
    app.selectbox(key="workers_status").select("stopped").run()
    assert list(app.dataframe[0].value["hostname"]) == ["old-box"]
    app.selectbox(key="workers_open").select("worker-006").run()
    assert any(s.value == "Worker detail" for s in app.subheader)
    assert "worker-006 on old-box" in [t.value for t in app.text]
    recent = app.dataframe[1:]
    assert any("t-012" in list(frame.value.get("id", [])) for frame in recent)


def test_workers_hardware_filter_and_hostile_name_stays_text(admin_app):
    app = run_page(admin_app, "pages/workers.py")
    app.selectbox(key="workers_hardware").select("cuda").run()
    assert sorted(app.dataframe[0].value["id"]) == ["worker-001", "worker-002"]
    app.selectbox(key="workers_hardware").select("all").run()
    app.text_input(key="workers_search").input("worker-evil").run()
    table = app.dataframe[0].value
    assert list(table["hostname"]) == [HOSTILE_NAME]  # the raw string, drawn by the grid as text
    app.selectbox(key="workers_open").select("worker-evil").run()
    assert f"worker-evil on {HOSTILE_NAME}" in [t.value for t in app.text]
    assert all(HOSTILE_NAME not in m.value for m in app.markdown)


def test_tasks_status_filter_and_detail(admin_app):
    app = run_page(admin_app, "pages/tasks.py")
    assert len(app.dataframe[0].value) == EXPECTED["total_tasks"]
    app.radio(key="tasks_status").set_value("failed").run()
    assert sorted(app.dataframe[0].value["id"]) == ["t-006", "t-007"]
    app.radio(key="tasks_status").set_value("pending").run()
    assert sorted(app.dataframe[0].value["id"]) == ["t-010", "t-011"]
    app.radio(key="tasks_status").set_value("all").run()
    app.text_input(key="tasks_type").input("benchmark").run()
    assert sorted(app.dataframe[0].value["id"]) == ["t-003", "t-004", "t-008"]
    app.text_input(key="tasks_type").input("").run()
    app.selectbox(key="tasks_open").select("t-006").run()
    assert app.code[0].value == "AssertionError: expected 3 got <b>4</b>"
    events = app.dataframe[1].value
    assert list(events["event"])[:1] == ["task_submitted"] and len(events) >= 3


def test_network_map_and_links(admin_app):
    app = run_page(admin_app, "pages/network.py")
    frames = app.main.get("iframe")
    assert len(frames) == 1
    html = frames[0].proto.srcdoc
    assert "new vis.Network" in html and "cdn.jsdelivr" not in html
    assert HOSTILE_NAME not in html  # JSON-escaped inside the script
    links = app.dataframe[0].value
    assert {"worker-001", "worker-evil"} <= set(links["target"])
    app.slider(key="network_limit").set_value(20).run()
    assert not app.warning  # six workers stay below any limit


def test_hardware_page_counts_available_and_total(admin_app):
    app = run_page(admin_app, "pages/hardware.py")
    table = {row["hardware"]: row for row in app.dataframe[0].value.to_dict("records")}
    assert (table["CUDA"]["available"], table["CUDA"]["total"]) == (2, 2)
    assert (table["QNN"]["available"], table["QNN"]["total"]) == (0, 1)  # its only worker is saturated
    bars = charts(app)["Hardware availability"]
    assert {"hardware": "CUDA", "measure": "total", "count": 2} in bars


def test_sidebar_says_live_and_user_role_has_no_admin_controls(live_backend, monkeypatch):
    app = dashboard(monkeypatch, live_backend.url, live_backend.user_token, "user")
    app.run()
    hint = [i.value for i in app.info][0]
    assert hint.startswith("No workers have reported yet")
    assert f"DTMON_URL={live_backend.url} " in hint and ":8050" not in hint  # the server it runs on
    assert not [b for b in app.button if b.label == "Start demo fleet"]
    indicator = app.sidebar.markdown[0].value
    assert indicator in (":material/bolt: **Live (WebSocket)**", ":material/sync: **Polling every 5 s**")
    admin = dashboard(monkeypatch, live_backend.url, live_backend.admin_token, "admin")
    admin.run()
    assert [b for b in admin.button if b.label == "Start demo fleet"]


def test_backend_errors_are_messages_not_tracebacks(live_backend, monkeypatch):
    app = dashboard(monkeypatch, live_backend.url, live_backend.user_token, "user")
    live_backend.stop()
    app.run()
    assert not app.exception
    assert any("could not check your session" in w.value for w in app.warning)  # still signed in
    assert any("could not answer" in e.value for e in app.error)  # the page's own fetch says why


def wait_until(condition, seconds: float = 60.0) -> None:
    """Poll a condition that a background loop makes true (alert evaluation, the live socket)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.2)


def test_firing_alert_shows_a_banner_on_every_page(seeded_backend, admin_app):
    url = seeded_backend.url
    firing = lambda: httpx.get(f"{url}/api/alerts", params={"state": "firing"},  # noqa: E731
                               headers=bearer(seeded_backend.admin_token), timeout=10).json()
    wait_until(lambda: any(a["rule_name"] == "Success rate below 80 %" for a in firing()))
    admin_app.run()
    wait_until(lambda: data.connect(url).live.section("alerts"))
    for path in ["pages/overview.py", "pages/workers.py", "pages/hardware.py"]:
        run_page(admin_app, path)
        banner = [e.value for e in admin_app.error if "Success rate below 80" in e.value]
        assert banner and "success rate over the last 15 min is 75\\.0 %" in banner[0]  # markdown-escaped
        assert "Live (WebSocket)" in admin_app.sidebar.markdown[0].value  # the router drew the sidebar too
    alert = next(a for a in firing() if a["rule_name"] == "Success rate below 80 %")
    httpx.post(f"{url}/api/alerts/{alert['id']}/ack", headers=bearer(seeded_backend.admin_token),
               timeout=10).raise_for_status()
    wait_until(lambda: all(a.get("acknowledged_by") for a in data.connect(url).live.section("alerts")))
    run_page(admin_app, "pages/overview.py")
    assert not [e.value for e in admin_app.error if "Success rate below 80" in e.value]  # acknowledged: no banner


def test_admin_starts_and_stops_the_demo_fleet_from_the_empty_overview(live_backend, monkeypatch):
    status = lambda: httpx.get(f"{live_backend.url}/api/demo", headers=bearer(live_backend.admin_token),  # noqa: E731
                               timeout=10).json()
    app = dashboard(monkeypatch, live_backend.url, live_backend.admin_token, "admin")
    app.run()
    try:
        next(b for b in app.button if b.label == "Start demo fleet").click().run(timeout=120)
        assert not app.exception and status()["running"]
        next(b for b in app.button if b.label == "Stop demo").click().run(timeout=120)
        assert not app.error and not status()["running"]
    finally:
        httpx.post(f"{live_backend.url}/api/demo/stop", headers=bearer(live_backend.admin_token), timeout=60)


def test_refresh_interval_comes_from_the_link(admin_app):
    admin_app.query_params["refresh"] = "30"
    admin_app.run()
    assert admin_app.sidebar.selectbox(key="dtmon_refresh").value == 30
    assert admin_app.sidebar.markdown[0].value in (":material/bolt: **Live (WebSocket)**",
                                                   ":material/sync: **Polling every 30 s**")
    admin_app.sidebar.selectbox(key="dtmon_refresh").set_value(0).run()
    assert admin_app.sidebar.markdown[0].value == ":material/pause_circle: **Paused** (automatic refresh off)"
    assert any(c.value.startswith("Showing data from ") for c in admin_app.sidebar.caption)
