"""Per-user layouts across browsers, and every page at phone width (390 x 844) in Chromium."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import VIEWER, screenshot, sign_in, wait_for_app

# An iPhone 12-15's CSS viewport and user agent: Streamlit closes the sidebar after navigation on mobile agents.
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 1,
         "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                       "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"}
PAGES = ["Workers", "Tasks", "Network", "Hardware", "History", "SQL", "Alerts", "Layout"]


def go_to(page: Page, title: str, phone: bool = False) -> None:
    """Follow a sidebar link (opening the collapsed sidebar first on a phone)."""
    if phone:
        page.locator("[data-testid=stExpandSidebarButton]").click()
    page.locator("[data-testid=stSidebarNav] a", has_text=title).click()
    page.get_by_role("heading", name=title if title != "Overview" else "Cluster overview").first.wait_for()
    wait_for_app(page)


def pick(page: Page, label: str, options: list[str]) -> None:
    """Empty a multiselect, then choose options in order (the order the layout keeps)."""
    box = page.get_by_role("combobox", name=label)
    page.locator("[data-testid=stMultiSelect]", has=box).get_by_role("button", name="Clear all").click()
    for option in options:
        box.click()
        page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def column_headers(page: Page) -> list[str]:
    """Header texts of the first dataframe on the page."""
    headers = page.locator("[data-testid=stDataFrame]").first.locator("[role=columnheader]")
    expect(headers.first).to_be_attached()
    return [text.strip() for text in headers.all_inner_texts() if text.strip()]


def chart_titles_then_cards(page: Page) -> tuple[float, float]:
    """Top of the first chart and of the first health card, to compare their order."""
    chart = page.locator("[data-testid=stVegaLiteChart]").first.bounding_box()
    card = page.locator("[data-testid=stMetric]").first.bounding_box()
    return chart["y"], card["y"]


@pytest.fixture
def new_context_page(browser):
    """A second, separate browser (no shared cookies or storage)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


def test_a_users_layout_follows_them_and_nobody_else(page: Page, new_context_page: Page, browser, dashboard_server):
    sign_in(page, dashboard_server.url, *VIEWER)
    go_to(page, "Layout")
    expect(page.get_by_text("You are using the built-in default layout.")).to_be_visible()
    pick(page, "Overview panels", ["Hardware availability", "Health cards"])
    pick(page, "Worker table columns", ["ID", "Health", "CPU"])
    page.get_by_role("button", name="Save my layout").click()
    expect(page.get_by_text("You are using your own layout.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(new_context_page, dashboard_server.url, *VIEWER)
    chart_top, card_top = chart_titles_then_cards(new_context_page)
    assert chart_top < card_top  # hardware first, then the health cards
    expect(new_context_page.locator("[data-testid=stVegaLiteChart]")).to_have_count(1)
    go_to(new_context_page, "Workers")
    assert column_headers(new_context_page) == ["ID", "Health", "CPU"]

    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    sign_in(other, dashboard_server.url, "admin", dashboard_server.admin_password)
    expect(other.locator("[data-testid=stVegaLiteChart]")).to_have_count(3)
    go_to(other, "Workers")
    assert column_headers(other)[:4] == ["ID", "Status", "Health", "CPU"]
    other.context.close()

    go_to(new_context_page, "Layout")
    new_context_page.get_by_role("button", name="Reset to default").click()
    expect(new_context_page.get_by_text("You are using the built-in default layout.")).to_be_visible()
    go_to(new_context_page, "Overview")
    expect(new_context_page.locator("[data-testid=stVegaLiteChart]")).to_have_count(3)


def no_horizontal_overflow(page: Page) -> None:
    """The page itself never scrolls sideways (tables and the map scroll inside themselves)."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths


def test_every_page_at_phone_width(browser, dashboard_server):
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        sign_in(page, dashboard_server.url, "admin", dashboard_server.admin_password)
        cards = page.locator("[data-testid=stMetric]")
        expect(cards).to_have_count(4)
        assert all(box["y"] + box["height"] <= 844 for box in (c.bounding_box() for c in cards.all()))
        no_horizontal_overflow(page)
        screenshot(page, "phone-overview")
        for title in PAGES:
            go_to(page, title, phone=True)
            expect(page.locator("[data-testid=stSidebar]")).to_have_attribute("data-collapsed", "true")
            no_horizontal_overflow(page)
            if title in ("Workers", "Tasks"):
                assert [h.lower() for h in column_headers(page)[:2]] == ["id", "status"]
            if title == "Network":
                page.wait_for_timeout(2500)  # let the physics layout settle before the screenshot
            screenshot(page, f"phone-{title.lower()}")
        assert page.locator("[data-testid=stException]").count() == 0
    finally:
        context.close()
