"""The Users page and the sidebar's Account form in AppTest against a real backend."""

import httpx

from support import ADMIN_PASSWORD, bearer
from tests.ui.conftest import dashboard


def login(url: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/api/auth/login", json={"username": username, "password": password}, timeout=30)


def open_users(app):
    app.run()
    app.switch_page("pages/users.py")
    app.run()
    assert not app.exception, app.exception
    return app


def test_admin_adds_resets_disables_and_deletes_a_user(admin_app, seeded_backend):
    app = open_users(admin_app)
    assert "admin" in list(app.dataframe[0].value["user"])
    app.text_input(key="users_new_name").input("carol")
    app.text_input(key="users_new_password").input("carol-password")
    app.button[0].click().run()  # the first button on the page is the add form's
    assert [s.value for s in app.success] == ["Added carol\\."]  # names are escaped as Markdown
    assert login(seeded_backend.url, "carol", "carol-password").status_code == 200
    app.selectbox(key="users_chosen").select("carol").run()
    app.text_input(key="users_password").input("carol-reset-42")
    app.button[1].click().run()
    assert login(seeded_backend.url, "carol", "carol-reset-42").status_code == 200
    app.button(key="users_toggle").click().run()
    assert login(seeded_backend.url, "carol", "carol-reset-42").status_code == 403
    assert list(app.dataframe[0].value.query("user == 'carol'")["state"]) == ["disabled"]
    app.checkbox(key="users_confirm_delete").check().run()
    app.button(key="users_delete").click().run()
    assert "carol" not in list(app.dataframe[0].value["user"])


def test_account_form_changes_your_own_password(seeded_backend, monkeypatch):
    admin = bearer(seeded_backend.admin_token)
    httpx.post(f"{seeded_backend.url}/api/auth/users", headers=admin, timeout=30,
               json={"username": "dave", "password": "dave-password", "role": "user"}).raise_for_status()
    token = login(seeded_backend.url, "dave", "dave-password").json()["token"]
    app = dashboard(monkeypatch, seeded_backend.url, token, "user")
    app.run()
    app.text_input(key="dtmon_password_old").input("dave-password")
    app.text_input(key="dtmon_password_new").input("dave-new-password")
    app.text_input(key="dtmon_password_again").input("dave-new-password")
    app.sidebar.button[0].click().run()
    assert [s.value for s in app.success] == ["Password changed; 0 other sessions signed out."]
    assert login(seeded_backend.url, "dave", "dave-new-password").status_code == 200
    assert login(seeded_backend.url, "admin", ADMIN_PASSWORD).status_code == 200
