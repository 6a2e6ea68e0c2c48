"""The admin's accounts: add, disable, delete, reset a password, see and end anyone's sessions."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.exceptions import NotFoundException

from backend.auth import auth_service, requires
from backend.schemas import PasswordReset, UserChange, UserRequest, iso
from storage import accounts


class UserController(Controller):
    path = "/api/auth/users"
    guards = [requires("admin")]

    @get("/")
    async def list_users(self, request: Request) -> list[dict[str, Any]]:
        rows = await request.app.state.store.read(accounts.users)
        return [r | {"created_at": iso(r["created_at"])} for r in rows]

    @post("/", status_code=201)
    async def add_user(self, request: Request, data: UserRequest) -> dict[str, Any]:
        await auth_service(request).add_user(data.username, data.password, data.role)
        return {"username": data.username, "role": data.role}

    @patch("/{username:str}")
    async def change_user(self, request: Request, username: str, data: UserChange) -> dict[str, Any]:
        """Disable (every token of the user stops working, open sockets close) or enable again."""
        ended = await auth_service(request).set_disabled(username, data.disabled)
        return {"username": username, "disabled": data.disabled, "tokens_revoked": ended}

    @delete("/{username:str}", status_code=200)
    async def delete_user(self, request: Request, username: str) -> dict[str, Any]:
        ended = await auth_service(request).delete_user(username)
        return {"username": username, "deleted": True, "tokens_revoked": ended}

    @put("/{username:str}/password")
    async def reset_password(self, request: Request, username: str, data: PasswordReset) -> dict[str, Any]:
        """Set anyone's password; their sessions end (the admin's own current one excepted)."""
        ended = await auth_service(request).set_password(username, data.password, keep=request.user.token_hash)
        return {"username": username, "sessions_ended": ended}

    @delete("/{username:str}/sessions", status_code=200)
    async def end_user_sessions(self, request: Request, username: str) -> dict[str, Any]:
        ended = await auth_service(request).revoke("user", username, kind="session")
        return {"username": username, "sessions_ended": ended}


class SessionController(Controller):
    path = "/api/auth/sessions"
    guards = [requires("admin")]

    @get("/")
    async def list_sessions(self, request: Request, username: str | None = None) -> list[dict[str, Any]]:
        rows = await request.app.state.store.read(lambda cur: accounts.sessions(cur, time.time(), username))
        return [r | {"created_at": iso(r["created_at"]), "expires_at": iso(r["expires_at"])} for r in rows]

    @delete("/{token_id:str}", status_code=200)
    async def end_session(self, request: Request, token_id: str) -> dict[str, Any]:
        if not await auth_service(request).revoke("id", token_id, kind="session"):
            raise NotFoundException(f"no live session {token_id!r}")
        return {"ended": 1}
