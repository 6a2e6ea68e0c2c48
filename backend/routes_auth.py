"""Login, logout, identity, and the admin's users and tokens."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.exceptions import ClientException, NotFoundException

from backend.auth import AuthService, hash_password, requires
from backend.schemas import Identity, LoginRequest, LoginResult, TokenCreated, TokenRequest, UserRequest, iso
from storage import accounts


def _auth(request: Request) -> AuthService:
    return request.app.state.auth


@post("/api/auth/login", status_code=200)
async def login(request: Request, data: LoginRequest) -> LoginResult:
    client = request.client.host if request.client else "?"
    token, role, expires = await _auth(request).login(data.username, data.password, client)
    return LoginResult(token=token, role=role, expires_at=iso(expires))


@post("/api/auth/logout", status_code=200)
async def logout(request: Request) -> dict[str, Any]:
    revoked = await _auth(request).revoke("hash", request.user.token_hash) if request.user.kind == "session" else 0
    return {"revoked": revoked}


@get("/api/auth/me")
async def me(request: Request) -> Identity:
    return Identity(name=request.user.name, role=request.user.role, kind=request.user.kind)


class AdminController(Controller):
    """Tokens and users while the server runs (the CLI cannot open a file the server holds)."""

    path = "/api/auth"
    guards = [requires("admin")]

    @get("/tokens")
    async def list_tokens(self, request: Request) -> list[dict[str, Any]]:
        rows = await request.app.state.store.read(accounts.tokens)
        return [r | {k: iso(r[k]) for k in ("created_at", "expires_at", "revoked_at")} for r in rows]

    @post("/tokens", status_code=201)
    async def create_token(self, request: Request, data: TokenRequest) -> TokenCreated:
        name = data.name or f"{data.role} token"
        token, token_id = await _auth(request).create_token(data.role, name)
        return TokenCreated(token=token, token_id=token_id, role=data.role, name=name)

    @delete("/tokens/{token_id:str}", status_code=200)
    async def revoke_token(self, request: Request, token_id: str) -> dict[str, Any]:
        if not await _auth(request).revoke("id", token_id):
            raise NotFoundException(f"no live token {token_id!r}")
        return {"revoked": 1}

    @get("/users")
    async def list_users(self, request: Request) -> list[dict[str, Any]]:
        rows = await request.app.state.store.read(accounts.users)
        return [r | {"created_at": iso(r["created_at"])} for r in rows]

    @post("/users", status_code=201)
    async def add_user(self, request: Request, data: UserRequest) -> dict[str, Any]:
        store = request.app.state.store
        if await store.read(lambda cur: accounts.user(cur, data.username)):
            raise ClientException(f"username: {data.username!r} already exists", status_code=409)
        await store.write(accounts.add_user(data.username, hash_password(data.password), data.role, time.time()))
        return {"username": data.username, "role": data.role}
