"""Users (admins): accounts and their sessions; add, reset a password, disable, delete, sign out."""

from collections import Counter

import pandas as pd
import streamlit as st

from ui import data, session
from ui.api import ApiError
from ui.fmt import escape_markdown

NOTE_KEY = "users_note"


def act(target: data.Backend, token: str, done: str, method: str, path: str, body: dict | None = None) -> None:
    """One admin action (run as a widget callback, before the tables are read again); say how it went."""
    try:
        target.client.action(method, path, token, body)
    except ApiError as exc:
        st.session_state[NOTE_KEY] = ("error", exc.message)
        return
    st.session_state[NOTE_KEY] = ("success", done)


def add_user(target: data.Backend, token: str) -> None:
    name, password = st.session_state["users_new_name"], st.session_state["users_new_password"]
    act(target, token, f"Added {name}.", "POST", "/api/auth/users",
        {"username": name, "password": password, "role": st.session_state["users_new_role"]})


def reset_password(target: data.Backend, token: str, name: str) -> None:
    act(target, token, f"Password of {name} set; their sessions were signed out.", "PUT",
        f"/api/auth/users/{name}/password", {"password": st.session_state["users_password"]})


def users_frame(users: list[dict], sessions: list[dict]) -> pd.DataFrame:
    live = Counter(s["username"] for s in sessions)
    return pd.DataFrame([{"user": u["username"], "role": u["role"], "state": "disabled" if u["disabled"] else "active",
                          "sessions": live[u["username"]], "created": u["created_at"]} for u in users])


target, viewer = session.backend(), session.viewer()
st.title("Users")
if not viewer.is_admin:
    st.info("Users are managed by admins.")
    st.stop()
if note := st.session_state.pop(NOTE_KEY, None):
    getattr(st, note[0])(escape_markdown(note[1]))

users = data.load(target.client.get, "/api/auth/users", viewer.token)
sessions = data.load(target.client.get, "/api/auth/sessions", viewer.token)
st.dataframe(users_frame(users, sessions), hide_index=True, key="users_table")

with st.expander("Add a user"), st.form("users_add", clear_on_submit=True):
    st.text_input("Username", key="users_new_name")
    st.text_input("Password", type="password", key="users_new_password", help="at least 8 characters")
    st.selectbox("Role", ["user", "admin"], key="users_new_role")
    st.form_submit_button("Add user", on_click=add_user, args=(target, viewer.token))

st.subheader("Manage a user")
chosen = st.selectbox("User", [u["username"] for u in users], key="users_chosen")
account = next(u for u in users if u["username"] == chosen)
with st.form("users_reset", clear_on_submit=True):
    st.text_input(f"New password for {chosen}", type="password", key="users_password")
    st.form_submit_button("Set password", on_click=reset_password, args=(target, viewer.token, chosen))
cols = st.columns(3)
toggle = "Enable" if account["disabled"] else "Disable"
cols[0].button(f"{toggle} {chosen}", key="users_toggle", on_click=act,
               args=(target, viewer.token, f"{toggle}d {chosen}.", "PATCH", f"/api/auth/users/{chosen}",
                     {"disabled": not account["disabled"]}))
cols[1].button(f"Sign {chosen} out everywhere", key="users_end_all", on_click=act,
               args=(target, viewer.token, f"Signed {chosen} out.", "DELETE", f"/api/auth/users/{chosen}/sessions"))
confirmed = cols[2].checkbox(f"Yes, delete {chosen}", key="users_confirm_delete")
cols[2].button(f"Delete {chosen}", key="users_delete", disabled=not confirmed, on_click=act,
               args=(target, viewer.token, f"Deleted {chosen}.", "DELETE", f"/api/auth/users/{chosen}"))

st.subheader(f"Sessions ({len(sessions)})")
if not sessions:
    st.caption("Nobody is signed in.")
    st.stop()
st.dataframe(pd.DataFrame(sessions), hide_index=True, key="users_sessions")
ending = st.selectbox("Session", [s["token_id"] for s in sessions], key="users_session",
                      format_func=lambda t: next(f"{s['username']} · since {s['created_at']} · {t}"
                                                 for s in sessions if s["token_id"] == t))
st.button("End this session", key="users_end_one", on_click=act,
          args=(target, viewer.token, "Session ended.", "DELETE", f"/api/auth/sessions/{ending}"))
