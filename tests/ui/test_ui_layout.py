"""The viewer's layout in AppTest: every overview panel draws from real data; table columns follow it."""

import httpx

from support import bearer
from tests.ui.conftest import dashboard
from tests.ui.scripted_fleet import EXPECTED
from ui.overview_panels import rows

EVERY_PANEL = ["failed_tasks", "attention", "alerts", "hardware", "health", "cpu", "memory", "tasks_by_status"]


def test_neighbouring_charts_share_a_row():
    assert rows(["health", "cpu", "memory", "tasks_by_status"]) == [["health"], ["cpu", "memory"], ["tasks_by_status"]]
    assert rows(["cpu", "alerts", "hardware", "memory"]) == [["cpu"], ["alerts"], ["hardware", "memory"]]


def test_every_panel_in_the_chosen_order(seeded_backend, monkeypatch):
    layout = {"overview": EVERY_PANEL, "worker_columns": ["id", "health"], "task_columns": ["id", "error"]}
    httpx.put(f"{seeded_backend.url}/api/layout", json=layout, headers=bearer(seeded_backend.admin_token),
              timeout=30).raise_for_status()
    app = dashboard(monkeypatch, seeded_backend.url, seeded_backend.admin_token, "admin")
    app.run()
    assert not app.exception, app.exception
    failed, attention = app.dataframe[0].value, app.dataframe[1].value
    assert sorted(failed["id"]) == ["t-006", "t-007"]
    assert "worker-004" in set(attention["id"])  # its CPU is at 97 %
    assert [m.label for m in app.metric] == ["Cluster health", "Active workers", "Total tasks", "Success rate"]
    assert app.metric[1].value == str(EXPECTED["active_workers"])
    app.switch_page("pages/workers.py").run()
    assert list(app.dataframe[0].column_order) == ["id", "health"]
    app.switch_page("pages/layout.py").run()
    assert app.multiselect(key="layout_overview").value == EVERY_PANEL
    app.button(key="layout_reset").click().run()
    assert app.multiselect(key="layout_overview").value == ["health", "cpu", "memory", "tasks_by_status"]
