"""The real dashboard in Chromium: sign in, every page, a worker search, a task filter, the map, XSS."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, wait_for_app
from tests.ui.scripted_fleet import EXPECTED, HOSTILE_NAME

def go_to(page: Page, title: str) -> None:
    """Navigate with the sidebar link, keeping the Streamlit session (and its sign-in)."""
    page.locator("[data-testid=stSidebarNav] a", has_text=title).click()
    page.get_by_role("heading", name=title if title != "Overview" else "Cluster overview").first.wait_for()
    wait_for_app(page)


def grid_cells(page: Page, present: str, absent: str | None = None, index: int = 0) -> list[str]:
    """A dataframe's cell texts (its accessible table) once it shows `present` and no longer `absent`."""
    cells = page.locator("[data-testid=stDataFrame]").nth(index).locator("[role=gridcell]")
    expect(cells.filter(has_text=present).first).to_be_attached()
    if absent:
        expect(cells.filter(has_text=absent)).to_have_count(0)
    return cells.all_inner_texts()


def type_and_apply(page: Page, label: str, text: str) -> None:
    """Fill a text input and press Enter, which reruns the page with the new filter."""
    box = page.get_by_role("textbox", name=label)
    box.fill(text)
    box.press("Enter")


def choose(page: Page, label: str, option: str) -> None:
    """Pick an option from a Streamlit selectbox."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def hostile_images(page: Page) -> int:
    """How many <img src=x> elements exist in the page and all its frames (must stay 0)."""
    return sum(frame.evaluate("document.querySelectorAll('img[src=\"x\"]').length") for frame in page.frames)


def test_every_page_filters_map_and_no_script_injection(logged_in_page: Page):
    page = logged_in_page
    expect(page.locator("[data-testid=stMetricValue]")).to_have_count(4)
    values = page.locator("[data-testid=stMetricValue]").all_inner_texts()
    assert str(EXPECTED["active_workers"]) in values and str(EXPECTED["total_tasks"]) in values
    assert f"{EXPECTED['success_rate']:.1f} %" in values
    expect(page.get_by_text("Paused (automatic refresh off)")).to_be_visible()  # ?autorefresh=off: nothing redraws
    expect(page.locator("[data-testid=stVegaLiteChart]")).to_have_count(3)

    go_to(page, "Workers")
    type_and_apply(page, "Search", "gpu-box")
    expect(page.get_by_text("2 workers · showing 2 on page 1 of 1")).to_be_visible()
    cells = grid_cells(page, "worker-001", absent="worker-003")
    assert "worker-001" in cells and "worker-002" in cells and "worker-003" not in cells
    screenshot(page, "workers")
    type_and_apply(page, "Search", "worker-evil")
    expect(page.get_by_text("1 worker · showing 1 on page 1 of 1")).to_be_visible()
    assert HOSTILE_NAME in grid_cells(page, "worker-evil", absent="worker-001")
    choose(page, "Open worker", "worker-evil")
    expect(page.get_by_text(f"worker-evil on {HOSTILE_NAME}")).to_be_visible()
    memory = page.locator("[data-testid=stMetric]", has_text="Memory").locator("[data-testid=stMetricValue]")
    expect(memory).to_have_text("1 GB")
    assert memory.evaluate("e => e.scrollWidth <= e.clientWidth")  # not cut off; the total goes below
    expect(page.get_by_text("of 4 GB")).to_be_visible()
    wait_for_app(page)
    assert "None" not in page.locator("[data-testid=stDataFrame]").first.inner_text()
    screenshot(page, "worker-detail")

    go_to(page, "Tasks")
    page.locator("[data-testid=stRadio] label", has_text="failed").click()
    expect(page.get_by_text("2 tasks · showing 2 on page 1 of 1")).to_be_visible()
    cells = grid_cells(page, "t-006", absent="t-001")
    assert "t-006" in cells and "t-007" in cells and "t-001" not in cells
    screenshot(page, "tasks")

    go_to(page, "Network")
    canvas = page.frame_locator("iframe").first.locator("#mynetwork canvas")
    expect(canvas).to_be_visible(timeout=20_000)
    assert canvas.bounding_box()["width"] > 200
    page.wait_for_timeout(1000)  # the first paint of the canvas
    screenshot(page, "network")

    go_to(page, "Hardware")
    expect(page.locator("[data-testid=stVegaLiteChart]")).to_have_count(1)
    assert "CUDA" in grid_cells(page, "CUDA")
    screenshot(page, "hardware")

    assert page.locator("[data-testid=stException]").count() == 0
    assert page.dialogs == [] and hostile_images(page) == 0


def test_viewer_role_is_not_offered_sql_and_signs_out(page: Page, dashboard_server):
    from tests.browser.conftest import VIEWER, sign_in

    sign_in(page, dashboard_server.url, *VIEWER)
    expect(page.get_by_text("Signed in as viewer (user)")).to_be_visible()
    links = [text.split()[-1] for text in page.locator("[data-testid=stSidebarNav] a").all_inner_texts()]
    assert "Overview" in links and "History" in links and "SQL" not in links  # the API refuses it anyway
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_dark_mode_follows_the_system_setting(browser, dashboard_server):
    from tests.browser.conftest import sign_in

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme="dark")
    try:
        page = context.new_page()
        sign_in(page, dashboard_server.url, "admin", dashboard_server.admin_password)
        background = page.evaluate(
            "getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor")
        channels = [int(c) for c in background[background.index("(") + 1:background.index(")")].split(",")[:3]]
        assert max(channels) < 80, background  # a dark background, not the light theme
        expect(page.locator("[data-testid=stMetricValue]")).to_have_count(4)
        screenshot(page, "overview-dark")
        go_to(page, "Network")
        expect(page.frame_locator("iframe").first.locator("#mynetwork canvas")).to_be_visible(timeout=20_000)
        page.wait_for_timeout(1000)
        screenshot(page, "network-dark")
    finally:
        context.close()
