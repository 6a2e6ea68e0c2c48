"""Sign-in that survives a reload, a second tab and a bookmark; sign-out that ends it everywhere."""

from playwright.sync_api import Page, expect

from tests.browser.conftest import VIEWER, open_page, sign_in, wait_for_app


def cookie_of(page: Page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == "dtmon_session"), None)


def signed_in(page: Page) -> None:
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)


def test_session_outlives_reloads_and_tabs_until_sign_out(browser, dashboard_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    first = context.new_page()
    sign_in(first, dashboard_server.url, *VIEWER)
    cookie = cookie_of(first)
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    assert cookie["value"] not in first.url and cookie["value"] not in first.content()
    assert "dtmon_session" not in first.evaluate("document.cookie"), "scripts cannot read the session cookie"
    expect(first.locator("[data-testid=stSidebarNav] a", has_text="Users")).to_have_count(0)  # admins only

    first.reload()
    wait_for_app(first)
    signed_in(first)
    second = context.new_page()
    open_page(second, dashboard_server.url, "workers")  # a bookmark opened in a second tab
    signed_in(second)
    expect(second.get_by_role("heading", name="Workers")).to_be_visible()

    first.get_by_role("button", name="Sign out").click()
    expect(first.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
    assert cookie_of(first) is None
    for _ in range(30):  # the open tab notices at its next rerun (here: the R shortcut)
        second.locator("body").press("r")
        wait_for_app(second)
        if second.get_by_text("Your session has ended").count():
            break
        second.wait_for_timeout(1000)
    expect(second.get_by_role("button", name="Sign in")).to_be_visible()
    second.reload()
    wait_for_app(second)
    expect(second.get_by_role("button", name="Sign in")).to_be_visible()
    context.close()


def test_wrong_password_says_so_and_sets_no_cookie(page, dashboard_server):
    open_page(page, dashboard_server.url, "monitoring")
    page.get_by_role("textbox", name="Username").fill(VIEWER[0])
    page.get_by_role("textbox", name="Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Wrong username or password.")).to_be_visible(timeout=30_000)
    assert cookie_of(page) is None and "autorefresh=off" in page.url


def test_one_port_server_ignores_forwarded_for_from_loopback(dashboard_server):
    """Streamlit's uvicorn believes X-Forwarded-For from 127.0.0.1; the mounted API must not."""
    import httpx
    body = {"username": "nobody-forwarded", "password": "wrong-password"}
    codes = [httpx.post(f"{dashboard_server.url}/api/auth/login", json=body, timeout=60,
                        headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
