"""History, SQL and Alerts pages in AppTest against a live backend seeded with the scripted fleet."""

import time

import httpx
import pytest

from support import bearer
from tests.ui.conftest import admin_app, dashboard, navigation_only, seeded_backend, settings  # noqa: F401
from tests.ui.test_ui_pages import charts, run_page


def wait_until(condition, seconds: float = 60.0):
    """Poll what a background loop makes true (alert evaluation); no timing is asserted."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.2)
    return value


def api(backend, method, path, **kwargs):
    return httpx.request(method, backend.url + path, headers=bearer(backend.admin_token), timeout=10, **kwargs)


def test_history_page_shows_the_scripted_hour(admin_app):
    app = run_page(admin_app, "pages/history.py")
    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["Tasks completed"], metrics["Tasks failed"], metrics["Success rate"]) == ("6", "2", "75.0 %")
    assert any("served from raw samples, 30-second buckets" in c.value for c in app.caption)
    found = charts(app)
    assert sum(row["tasks"] for row in found["Tasks finished per bucket"] if row["outcome"] == "completed") == 6
    assert found["CPU across workers"] and found["Workers reporting"]
    hardware = next(d.value for d in app.dataframe if "hardware" in d.value.columns)
    assert {"CUDA", "CPU"} <= set(hardware["hardware"])


def test_sql_page_runs_a_select_and_shows_refusals(admin_app):
    app = run_page(admin_app, "pages/sql.py")
    app.text_area(key="sql_text").input("SELECT worker_id FROM workers WHERE worker_id LIKE 'worker-00%' ORDER BY 1")
    app.button(key="sql_run").click().run()
    assert not app.exception
    assert any("5 rows" in m.value for m in app.markdown)
    result = next(d.value for d in app.dataframe if list(d.value.columns) == ["worker_id"])
    assert list(result["worker_id"])[:2] == ["worker-001", "worker-002"]
    app.text_area(key="sql_text").input("DROP TABLE workers")
    app.button(key="sql_run").click().run()
    assert any("only SELECT statements are allowed" in c.value for c in app.code)


def test_sql_page_is_for_admins_only(seeded_backend, monkeypatch):
    app = dashboard(monkeypatch, seeded_backend.url, seeded_backend.user_token, "user")
    app.run()
    with pytest.raises(ValueError, match="sql.py"):
        app.switch_page("pages/sql.py")  # a user's navigation does not list it


def test_alerts_page_acknowledges_and_admin_adds_a_rule(seeded_backend, admin_app):
    alert = wait_until(lambda: next((a for a in api(seeded_backend, "GET", "/api/alerts?state=firing").json()
                                     if a["rule_name"] == "Success rate below 80 %"), None))
    app = run_page(admin_app, "pages/alerts.py")
    assert any(c.value.startswith("Last update: ") and " s ago (" in c.value for c in app.sidebar.caption)
    app.button(key=f"ack_{alert['id']}").click().run()
    assert not app.exception
    stored = next(a for a in api(seeded_backend, "GET", "/api/alerts").json() if a["id"] == alert["id"])
    assert stored["acknowledged_by"] == "admin"
    form_name = next(t for t in app.text_input if t.label == "Name")
    form_name.input("queue too long")
    next(n for n in app.number_input if n.label == "Threshold").set_value(50.0)
    next(s for s in app.selectbox if s.label == "Metric").set_value("pending_tasks")
    next(b for b in app.button if b.label == "Save rule").click().run()
    assert not app.exception
    rules = api(seeded_backend, "GET", "/api/alerts/rules").json()
    assert [(r["metric"], r["threshold"]) for r in rules if r["name"] == "queue too long"] == [("pending_tasks", 50.0)]
