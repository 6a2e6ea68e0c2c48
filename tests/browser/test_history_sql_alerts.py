"""History, SQL and Alerts pages in real Chromium against the scripted fleet."""

import time

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, wait_for_app


def go_to(page, title: str) -> None:
    """Follow the sidebar link (a fresh URL would start a new, signed-out session)."""
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=title).click()
    wait_for_app(page)


def firing_alerts(server) -> list[dict]:
    response = httpx.get(f"{server.url}/api/alerts", params={"state": "firing"},
                         headers={"Authorization": f"Bearer {server.admin_token}"}, timeout=10)
    return response.raise_for_status().json()


def wait_for_firing(server, rule_name: str, seconds: float = 60.0) -> dict:
    """The scripted fleet's success rate (75 %) trips the default rule within one evaluation."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [a for a in firing_alerts(server) if a["rule_name"] == rule_name]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"{rule_name!r} never fired")


def test_history_page_draws_the_range(logged_in_page, dashboard_server):
    page = logged_in_page
    go_to(page, "History")
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    expect(page.get_by_text("served from raw samples, 30-second buckets")).to_be_visible()
    expect(page.get_by_text("Tasks completed")).to_be_visible()
    expect(page.locator("[data-testid=stVegaLiteChart]").first).to_be_visible()
    screenshot(page, "history")
    page.get_by_text("30d", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_text("served from hour rollups, 6-hour buckets")).to_be_visible()


def test_sql_page_runs_a_query_and_shows_rows(logged_in_page, dashboard_server):
    page = logged_in_page
    go_to(page, "SQL")
    expect(page.get_by_role("heading", name="SQL", exact=True)).to_be_visible()
    page.get_by_label("Query").fill("SELECT worker_id, cpu_percent FROM workers\n"
                                    "WHERE worker_id IN ('worker-001', 'worker-003') ORDER BY worker_id")
    page.get_by_role("button", name="Run query").click()
    wait_for_app(page)
    expect(page.get_by_text("2 rows")).to_be_visible()
    grid = page.locator("[data-testid=stDataFrame]").filter(has_text="worker-001")
    expect(grid.first).to_be_attached()
    expect(page.get_by_role("button", name="Download Parquet")).to_be_visible()
    screenshot(page, "sql")
    page.get_by_label("Query").fill("DELETE FROM workers")
    page.get_by_role("button", name="Run query").click()
    wait_for_app(page)
    expect(page.get_by_text("only SELECT statements are allowed")).to_be_visible()


def test_alerts_page_acknowledges_a_firing_alert(logged_in_page, dashboard_server):
    page = logged_in_page
    alert = wait_for_firing(dashboard_server, "Success rate below 80 %")
    go_to(page, "Alerts")
    banner = page.locator(".st-key-alerts_banner")  # on every page
    expect(banner.get_by_text("success rate over the last 15 min is 75.0 %")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Success rate below 80 %").first).to_be_visible()
    row = page.locator("[data-testid=stHorizontalBlock]").filter(has_text="Success rate below 80 %")
    row.get_by_role("button", name="Acknowledge").first.click()
    wait_for_app(page)
    expect(page.get_by_text("acknowledged by admin").first).to_be_visible()
    screenshot(page, "alerts")
    acknowledged = {a["id"]: a for a in firing_alerts(dashboard_server)}
    assert acknowledged[alert["id"]]["acknowledged_by"] == "admin"
    go_to(page, "Overview")
    expect(banner.get_by_text("Success rate below 80 %")).to_have_count(0)  # acknowledged: out of the banner
