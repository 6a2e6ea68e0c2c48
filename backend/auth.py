"""Tokens, accounts, the bearer-token middleware and role guards."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import ClientException, NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from backend.settings import Settings
from backend.signin import Throttle, Verifier, hash_password
from storage import accounts
from storage.store import Store

ROLES = ("admin", "user", "ingest")
PUBLIC_PATHS = {"/api/health", "/api/auth/login", "/api/auth/session", "/api/auth/session/end",
                "/api/auth/oidc"}
CACHE_SECONDS = 5.0
MAX_CACHED = 4096
REVOKED_CLOSE_CODE = 4401
MISSING_TOKEN = "missing bearer token (Authorization: Bearer <token>)"
_TOKEN_IN_URL = re.compile(r"(?i)([?&][a-z_]*token=)[^&\s\"]*")


@dataclass(frozen=True)
class Identity:
    name: str
    role: str
    kind: str
    token_hash: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    """Users, tokens and sign-ins over the store, with a short bounded cache so requests cost no query."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._cache: OrderedDict[str, tuple[float, Identity | None]] = OrderedDict()
        self.throttle = Throttle()
        self.verifier = Verifier()
        self._sockets: dict[str, set[Any]] = {}

    def bootstrap_admin(self) -> str | None:
        """Create the first admin; return the generated password when none was configured."""
        if self.store.read_sync(accounts.admin_count):
            return None
        password = self.settings.admin_password or secrets.token_urlsafe(15)
        self.store.write_sync(accounts.add_user("admin", hash_password(password), "admin", time.time()))
        return None if self.settings.admin_password else password

    async def check_password(self, username: str, password: str, client: str) -> str:
        """The account's role when the password is right; throttled, and as slow for unknown names."""
        delay = self.throttle.admit(username, client)
        if delay:
            await asyncio.sleep(delay)
        found = await self.store.read(lambda cur: accounts.user(cur, username))
        if not await self.verifier.matches(found[0] if found else None, password):
            raise NotAuthorizedException("unknown user or wrong password")
        self.throttle.succeeded(username, client)
        if found[2]:
            raise PermissionDeniedException("this account is disabled")
        return found[1]

    async def login(self, username: str, password: str, client: str) -> tuple[str, str, float]:
        role = await self.check_password(username, password, client)
        token, expires = await self.start_session(username, role)
        return token, role, expires

    async def start_session(self, username: str, role: str) -> tuple[str, float]:
        """A session token for an account whose sign-in succeeded (by password or another way)."""
        expires = time.time() + self.settings.session_hours * 3600
        token, _ = await self.create_token(role, username, username=username, kind="session", expires=expires)
        return token, expires

    async def create_token(self, role: str, name: str, username: str | None = None, kind: str = "api",
                           expires: float | None = None) -> tuple[str, str]:
        """A new token and its public id; only the hash is stored."""
        token, token_id = secrets.token_urlsafe(32), secrets.token_hex(6)
        await self.store.write(accounts.add_token(hash_token(token), token_id, name, role, username, kind,
                                                  time.time(), expires))
        return token, token_id

    def cached(self, token: str) -> tuple[bool, Identity | None]:
        """(known, identity) from the cache alone, so a busy client costs no thread hop."""
        found = self._cache.get(hash_token(token))
        if found and time.monotonic() - found[0] < CACHE_SECONDS:
            return True, found[1]
        return False, None

    def identify(self, token: str) -> Identity | None:
        """Look a bearer token up (sync: called from a worker thread or the middleware's executor)."""
        known, identity = self.cached(token)
        if known:
            return identity
        digest = hash_token(token)
        row = self.store.read_sync(lambda cur: accounts.token(cur, digest, time.time()))
        identity = Identity(name=row[2], role=row[1], kind=row[3], token_hash=digest) if row else None
        self._cache[digest] = (time.monotonic(), identity)
        self._cache.move_to_end(digest)
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)
        return identity

    async def revoke(self, by: str, value: str, kind: str | None = None, keep: str | None = None) -> int:
        """Revoke tokens (by id, hash or user), forget them and close the sockets opened with them."""
        hashes = await self.store.write(accounts.revoke(by, value, time.time(), kind, keep))
        self._cache.clear()
        for digest in hashes:
            for socket in list(self._sockets.get(digest, ())):
                await _close(socket)
        return len(hashes)

    @contextmanager
    def watching(self, identity: Identity, socket: Any) -> Iterator[None]:
        """Remember an open socket under its token so a revocation can close it."""
        self._sockets.setdefault(identity.token_hash, set()).add(socket)
        try:
            yield
        finally:
            sockets = self._sockets.get(identity.token_hash, set())
            sockets.discard(socket)
            if not sockets:
                self._sockets.pop(identity.token_hash, None)

    async def add_user(self, username: str, password: str, role: str) -> None:
        if await self.store.read(lambda cur: accounts.user(cur, username)):
            raise ClientException(f"username: {username!r} already exists", status_code=409)
        password_hash = await self.verifier.run(hash_password, password)
        await self.store.write(accounts.add_user(username, password_hash, role, time.time()))

    async def set_password(self, username: str, password: str, keep: str | None = None) -> int:
        """New password; every session of the user but `keep` ends. Returns the sessions ended."""
        password_hash = await self.verifier.run(hash_password, password)
        if not await self.store.write(accounts.set_password(username, password_hash)):
            raise NotFoundException(f"no user {username!r}")
        return await self.revoke("user", username, kind="session", keep=keep)

    async def set_disabled(self, username: str, disabled: bool) -> int:
        """Disable (ending every token of the user) or enable an account."""
        if disabled:
            await self._keep_an_admin(username, "disable")
        if not await self.store.write(accounts.set_disabled(username, disabled)):
            raise NotFoundException(f"no user {username!r}")
        return await self.revoke("user", username) if disabled else 0

    async def delete_user(self, username: str) -> int:
        await self._keep_an_admin(username, "delete")
        if not await self.store.write(accounts.delete_user(username)):
            raise NotFoundException(f"no user {username!r}")
        return await self.revoke("user", username)

    async def _keep_an_admin(self, username: str, action: str) -> None:
        def last_admin(cur) -> bool:
            found = accounts.user(cur, username)
            return bool(found and found[1] == "admin" and not found[2] and accounts.admin_count(cur) <= 1)
        if await self.store.read(last_admin):
            raise ClientException(f"username: cannot {action} {username!r}, the last enabled admin",
                                  status_code=409)

    def close(self) -> None:
        self.verifier.close()


def auth_service(connection: ASGIConnection) -> AuthService:
    return connection.app.state.auth


async def _close(socket: Any) -> None:
    try:
        await socket.close(code=REVOKED_CLOSE_CODE, reason="token revoked")
    except Exception:  # noqa: BLE001 - the peer may already be gone; the socket is dead either way
        pass


class RedactTokens(logging.Filter):
    """Server logs show a URL's `token=` as [redacted] (old clients still put tokens in socket URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = _redact(record.msg) if isinstance(record.msg, str) else record.msg
        return True

    def install(self) -> None:
        for name in ("uvicorn.access", "uvicorn.error"):
            if self not in logging.getLogger(name).filters:
                logging.getLogger(name).addFilter(self)


def _redact(text: str) -> str:
    return _TOKEN_IN_URL.sub(r"\1[redacted]", text)


REDACT_TOKENS = RedactTokens()


def bearer(connection: ASGIConnection) -> str | None:
    """The Authorization header's token; never one from the URL, which ends up in logs."""
    return bearer_in(connection.scope["headers"])


def bearer_in(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The same from raw ASGI headers, for the route that skips Litestar's request objects."""
    for name, value in headers:
        if name.lower() == b"authorization":
            header = value.decode("latin-1")
            return (header[7:].strip() or None) if header.lower().startswith("bearer ") else None
    return None


async def authenticate(service: AuthService, token: str) -> Identity:
    """The live identity behind a token, or 401; a cached token is checked without leaving the loop."""
    known, identity = service.cached(token)
    if not known:
        identity = await asyncio.to_thread(service.identify, token)
    if identity is None:
        raise NotAuthorizedException("invalid, expired or revoked token")
    return identity


async def authorized(service: AuthService, headers: Iterable[tuple[bytes, bytes]], needed: str) -> Identity:
    """What TokenMiddleware and a `requires` guard check together, for a route that skips both."""
    token = bearer_in(headers)
    if token is None:
        raise NotAuthorizedException(MISSING_TOKEN)
    identity = await authenticate(service, token)
    check_role(identity, needed)
    return identity


class TokenMiddleware(AbstractAuthenticationMiddleware):
    """Every route but the public ones needs a live token; sockets may also send it first thing."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        if connection.scope["path"] in PUBLIC_PATHS:
            return AuthenticationResult(user=None, auth=None)
        token = bearer(connection)
        if token is None:
            if connection.scope["type"] == "websocket":
                return AuthenticationResult(user=None, auth=None)
            raise NotAuthorizedException(MISSING_TOKEN)
        return AuthenticationResult(user=await authenticate(connection.app.state.auth, token), auth=token)


def allowed(role: str, needed: str) -> bool:
    """admin may do everything; user reads; ingest only writes events."""
    return role == "admin" or role == needed


def check_role(identity: Identity, needed: str) -> None:
    if not allowed(identity.role, needed):
        raise PermissionDeniedException(f"this route needs the {needed} role; your token has {identity.role}")


def requires(needed: str):
    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # a sync guard runs in a thread
        identity = connection.scope.get("user")
        if identity is None:
            if connection.scope["type"] == "websocket":
                return  # checked after the first message
            raise NotAuthorizedException("missing bearer token")
        check_role(identity, needed)

    return guard
