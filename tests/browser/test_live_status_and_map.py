"""With the real refresh timer: the sidebar says Live only while the view updates, and the map keeps
its layout and the viewer's dragged node across redraws."""

import httpx
import pytest
from playwright.sync_api import Frame, Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_browser_dashboard import choose, go_to
from ui.fmt import QUALITY_COLOURS

MAP = "iframe[title='st.iframe']"  # the refresh timer is an iframe too
POSITIONS = "Object.fromEntries(Object.entries(network.getPositions()).map(([id, p]) => [id, [p.x, p.y]]))"


def sign_in_refreshing(page: Page, base_url: str, username: str, password: str) -> None:
    """Sign in on a link that refreshes every 2 s (no ?autorefresh=off): the dashboard as people run it."""
    page.goto(f"{base_url}/monitoring?refresh=2")
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Cluster overview").wait_for(timeout=30_000)


def map_frame(page: Page) -> Frame:
    """The map's iframe document as it is now (a redraw replaces it)."""
    page.frame_locator(MAP).locator("#mynetwork canvas").wait_for(timeout=20_000)
    return page.locator(MAP).element_handle().content_frame()


def drag_node(page: Page, node: str, dx: float, dy: float) -> None:
    """Drag one node with the mouse, as a viewer would."""
    frame = map_frame(page)
    x, y = frame.evaluate(f"(() => {{ const p = network.canvasToDOM(network.getPositions(['{node}'])['{node}']);"
                          " return [p.x, p.y]; })()")
    box = page.locator(MAP).bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.down()
    page.mouse.move(box["x"] + x + dx, box["y"] + y + dy, steps=12)
    page.mouse.up()


def test_live_indicator_and_a_map_that_keeps_its_layout(page: Page, dashboard_server):
    sign_in_refreshing(page, dashboard_server.url, "admin", dashboard_server.admin_password)
    expect(page.get_by_text("Live (WebSocket)")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Last update:")).to_be_visible()
    expect(page.locator("[data-testid=stMetricValue]")).to_have_count(4)
    expect(page.locator("[data-testid=stVegaLiteChart]")).to_have_count(3)
    page.wait_for_timeout(1000)  # the charts' first paint
    screenshot(page, "overview")

    go_to(page, "Network")
    before = map_frame(page).evaluate(POSITIONS)
    drag_node(page, "worker-003", 140, 90)
    dragged = map_frame(page).evaluate(POSITIONS)["worker-003"]
    assert abs(dragged[0] - before["worker-003"][0]) > 50  # the drag moved it
    map_frame(page).evaluate("window.beforeRedraw = true")
    # A worse link recolours one edge: the map is drawn anew with the same nodes.
    httpx.post(f"{dashboard_server.url}/api/ingest", timeout=30, headers={
        "Authorization": f"Bearer {dashboard_server.ingest_token}"}, json={"events": [
            {"kind": "link", "source": "worker-001", "target": "worker-002", "rtt_ms": 900.0}]}).raise_for_status()
    page.wait_for_function(
        f"() => {{ const f = document.querySelector(\"{MAP}\"); return f && f.contentWindow.network"
        " && !f.contentWindow.beforeRedraw; }", timeout=30_000)
    page.wait_for_timeout(4500)  # two more 2 s refreshes
    frame = map_frame(page)
    after = frame.evaluate(POSITIONS)
    assert after["worker-003"] == pytest.approx(dragged, abs=1)  # where the viewer left it
    assert {k: v for k, v in after.items() if k != "worker-003"} == \
        {k: v for k, v in before.items() if k != "worker-003"}  # everything else in place
    colours = frame.evaluate("edges.get().filter(e => e.from === 'worker-001' && e.to === 'worker-002')"
                             ".map(e => e.color)")
    assert colours == [QUALITY_COLOURS["poor"]]  # the redraw carried the new link quality

    choose(page, "Refresh interval", "Off")
    expect(page.get_by_text("Paused (automatic refresh off)")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("Live (WebSocket)")).to_have_count(0)
    expect(page.get_by_text("Showing data from ")).to_be_visible()
