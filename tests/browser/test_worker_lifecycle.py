"""Two real host agents against the real dashboard in Chromium: the one stopped with SIGTERM says
goodbye and never alerts; the one killed alerts, and the alert resolves when the admin removes it."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import REPO, running_dashboard, screenshot, sign_in, wait_for_app
from tests.browser.test_browser_dashboard import go_to, type_and_apply

OFFLINE_AFTER_S = 3  # three missed one-second heartbeats


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A dashboard with a 3 s offline threshold and 1 s alert evaluations, the offline rule firing at
    once, the scripted fleet and three more workers going silent, and two agents reporting every second."""
    settings = {"DTMON_OFFLINE_AFTER": str(OFFLINE_AFTER_S), "DTMON_ALERT_INTERVAL": "1"}
    with running_dashboard(tmp_path_factory.mktemp("lifecycle"), env_extra=settings) as server:
        url, password, ingest = server.url, server.admin_password, server.ingest_token
        http = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {server.admin_token}"})
        rule = next(r for r in http.get("/api/alerts/rules").json() if r["metric"] == "worker_offline")
        http.patch(f"/api/alerts/rules/{rule['id']}", json={"for_seconds": 0}).raise_for_status()
        long_gone = time.time() - 3600  # three hosts that went silent an hour ago, without a goodbye
        http.post("/api/ingest", headers={"Authorization": f"Bearer {ingest}"}, json={"events": [
            {"kind": "worker_heartbeat", "worker_id": f"ghost-{i}", "ts": long_gone, "cpu_percent": 5.0}
            for i in range(3)]}).raise_for_status()
        env = {**os.environ, "DTMON_URL": url, "DTMON_TOKEN": ingest}
        agents = {name: subprocess.Popen([sys.executable, "-m", "backend", "agent", "--worker-id", name,
                                          "--interval", "1", "--no-browser-probe"], cwd=REPO, env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                  for name in ("agent-stopped", "agent-killed")}
        try:
            eventually(lambda: [statuses(http).get(name) for name in agents] == ["active", "active"])
            yield url, password, http, agents
        finally:
            for agent in agents.values():
                agent.kill()
                agent.wait(10)
            http.close()


def eventually(condition, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.3)
    raise AssertionError("condition never held")


def statuses(http: httpx.Client, **params) -> dict[str, str]:
    return {w["id"]: w["status"] for w in http.get("/api/monitoring/workers", params=params).json()}


def alerts_on(http: httpx.Client, worker_id: str, state: str = "all") -> list[dict]:
    rows = http.get("/api/alerts", params={"state": state, "limit": 500}).json()
    return [a for a in rows if a["scope"] == f"worker:{worker_id}"]


def test_clean_stop_never_alerts_a_killed_agent_does_until_removed(fleet, page: Page):
    url, password, http, agents = fleet
    agents["agent-stopped"].send_signal(signal.SIGTERM)
    assert agents["agent-stopped"].wait(30) == 0
    agents["agent-killed"].kill()
    eventually(lambda: alerts_on(http, "agent-killed", "firing"))
    time.sleep(OFFLINE_AFTER_S + 2)  # well past the threshold and another evaluation
    assert statuses(http)["agent-stopped"] == "stopped" and statuses(http)["agent-killed"] == "offline"
    assert alerts_on(http, "agent-stopped") == []

    offline = sum(status == "offline" for status in statuses(http).values())
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    sign_in(page, url, "admin", password)
    banner = page.locator(".st-key-alerts_banner")
    expect(banner.get_by_text(f"{offline} workers offline")).to_be_visible()  # one line for the rule
    expect(banner.get_by_role("link", name="Open the Alerts page")).to_be_visible()
    assert banner.bounding_box()["height"] < 300  # a few lines, not the first screen
    screenshot(page, "alerts-banner-phone")
    page.set_viewport_size({"width": 1400, "height": 1000})
    go_to(page, "Workers")
    type_and_apply(page, "Search", "agent-killed")
    wait_for_app(page)
    page.get_by_role("combobox", name="Open worker").click()
    page.keyboard.type("agent-killed")
    page.keyboard.press("Enter")
    wait_for_app(page)
    page.get_by_role("button", name="Remove worker").click()
    page.get_by_role("button", name="Remove", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_text("Removed agent-killed")).to_be_visible()
    expect(banner.get_by_text(f"{offline - 1} workers offline")).to_be_visible()  # this run counts it resolved
    assert alerts_on(http, "agent-killed", "firing") == []
    assert alerts_on(http, "agent-killed", "resolved")[0]["ended_at"]
    assert "agent-killed" not in statuses(http)
    assert statuses(http, status="removed") == {"agent-killed": "removed"}
    screenshot(page, "worker-removed")
