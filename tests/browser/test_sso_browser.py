"""Single sign-on end to end in Chromium: st.login against a real OpenID Connect provider, roles by group."""

import secrets

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import open_page, running_dashboard, sign_in, wait_for_app
from tests.oidc_provider import CLIENT_ID, GROUPS, oidc_provider


@pytest.fixture(scope="module")
def sso_dashboard(tmp_path_factory):
    """A dashboard whose secrets.toml names the test provider (the repository's own has none)."""
    workdir = tmp_path_factory.mktemp("sso")
    with oidc_provider() as provider:
        metadata = f"{provider}/.well-known/openid-configuration"
        (workdir / "secrets.toml").write_text(
            '[auth]\nredirect_uri = "http://localhost:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_urlsafe(32)}"\nclient_id = "{CLIENT_ID}"\n'
            f'client_secret = "test-secret"\nserver_metadata_url = "{metadata}"\nexpose_tokens = "id"\n')
        env = {"DTMON_OIDC_METADATA_URL": metadata, "DTMON_OIDC_CLIENT_ID": CLIENT_ID, **GROUPS}
        with running_dashboard(workdir, env, ["--secrets.files", str(workdir / "secrets.toml")],
                               host="localhost") as server:
            yield server


def sso_sign_in(page: Page, url: str, who: str) -> None:
    """Press the single sign-on button and pick the user on the provider's consent page."""
    open_page(page, url, "monitoring")
    page.get_by_role("button", name="Sign in with single sign-on").click()
    page.get_by_role("button", name=who, exact=True).click()
    wait_for_app(page)


def test_sso_maps_groups_to_roles_and_local_users_still_sign_in(page: Page, browser, sso_dashboard):
    sso_sign_in(page, sso_dashboard.url, "alice")
    expect(page.get_by_text("Signed in as sso:alice@example.com (admin)")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-testid=stMetricValue]")).to_have_count(4)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()  # the provider's own sign-out page
    wait_for_app(page)
    expect(page.get_by_role("button", name="Sign in with single sign-on")).to_be_visible()

    sso_sign_in(page, sso_dashboard.url, "bob")
    expect(page.get_by_text("Signed in as sso:bob@example.com (user)")).to_be_visible(timeout=30_000)

    refused = browser.new_context().new_page()
    sso_sign_in(refused, sso_dashboard.url, "eve")
    expect(refused.get_by_text("not in a group allowed")).to_be_visible(timeout=30_000)
    expect(refused.get_by_role("button", name="Sign out of single sign-on")).to_be_visible()
    refused.context.close()

    local = browser.new_context().new_page()
    sign_in(local, sso_dashboard.url.replace("localhost", "127.0.0.1"), "admin", sso_dashboard.admin_password)
    expect(local.get_by_text("Signed in as admin (admin)")).to_be_visible()
    local.context.close()


def test_without_sso_settings_the_login_form_is_unchanged(page: Page, dashboard_server):
    open_page(page, dashboard_server.url, "monitoring")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Sign in with single sign-on")).to_have_count(0)
