"""Sign-in (bearer token or dashboard cookie), sign-out, identity, passwords, and the admin's tokens."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Redirect

from backend import sessions
from backend.auth import auth_service, hash_token, requires
from backend.schemas import (Identity, LoginRequest, LoginResult, PasswordChange, TokenCreated, TokenRequest,
                             iso)
from storage import accounts

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
SIGN_IN_REFUSALS = {401: "failed", 403: "disabled", 429: "throttled", 503: "busy"}


@post("/api/auth/login", status_code=200)
async def login(request: Request, data: LoginRequest) -> LoginResult:
    client = sessions.client_of(request)
    token, role, expires = await auth_service(request).login(data.username, data.password, client)
    return LoginResult(token=token, role=role, expires_at=iso(expires))


@post("/api/auth/session", status_code=303)
async def start_session(request: Request, data: Annotated[dict[str, str], FORM]) -> Redirect:
    """The dashboard's sign-in form: sets the session cookie and goes back to the page."""
    sessions.refuse_cross_site(request)
    target = sessions.next_path(data.get("next"))
    username, password = data.get("username", ""), data.get("password", "")
    if not (0 < len(username) <= 128 and 0 < len(password) <= 1024):
        return sessions.failed(target, "failed")
    try:
        token, _, expires = await auth_service(request).login(username, password, sessions.client_of(request))
    except HTTPException as exc:
        return sessions.failed(target, SIGN_IN_REFUSALS.get(exc.status_code, "failed"))
    return sessions.signed_in(request, token, expires, target)


@post("/api/auth/session/end", status_code=303)
async def end_session(request: Request, data: Annotated[dict[str, str], FORM]) -> Redirect:
    """The dashboard's sign-out button: ends the cookie's session on the server and in the browser."""
    sessions.refuse_cross_site(request)
    token = request.cookies.get(sessions.COOKIE)
    if token:
        await auth_service(request).revoke("hash", hash_token(token), kind="session")
    return sessions.signed_out(request, sessions.next_path(data.get("next")))


@post("/api/auth/logout", status_code=200)
async def logout(request: Request) -> dict[str, Any]:
    if request.user.kind != "session":
        return {"revoked": 0}
    return {"revoked": await auth_service(request).revoke("hash", request.user.token_hash)}


@get("/api/auth/me")
async def me(request: Request) -> Identity:
    return Identity(name=request.user.name, role=request.user.role, kind=request.user.kind)


@post("/api/auth/password", status_code=200)
async def change_password(request: Request, data: PasswordChange) -> dict[str, Any]:
    """Change your own password (the current one is checked); your other sessions end."""
    if request.user.kind != "session":
        raise PermissionDeniedException("only a signed-in user has a password; sign in with POST /api/auth/login")
    auth = auth_service(request)
    await auth.check_password(request.user.name, data.current_password, sessions.client_of(request))
    ended = await auth.set_password(request.user.name, data.new_password, keep=request.user.token_hash)
    return {"username": request.user.name, "sessions_ended": ended}


class TokenController(Controller):
    """API tokens while the server runs (the CLI cannot open a file the server holds)."""

    path = "/api/auth/tokens"
    guards = [requires("admin")]

    @get("/")
    async def list_tokens(self, request: Request) -> list[dict[str, Any]]:
        rows = await request.app.state.store.read(accounts.tokens)
        return [r | {k: iso(r[k]) for k in ("created_at", "expires_at", "revoked_at")} for r in rows]

    @post("/", status_code=201)
    async def create_token(self, request: Request, data: TokenRequest) -> TokenCreated:
        name = data.name or f"{data.role} token"
        token, token_id = await auth_service(request).create_token(data.role, name)
        return TokenCreated(token=token, token_id=token_id, role=data.role, name=name)

    @delete("/{token_id:str}", status_code=200)
    async def revoke_token(self, request: Request, token_id: str) -> dict[str, Any]:
        if not await auth_service(request).revoke("id", token_id):
            raise NotFoundException(f"no live token {token_id!r}")
        return {"revoked": 1}
