"""Passwords, tokens, the bearer-token middleware and role guards."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import deque
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from backend.settings import Settings
from storage import accounts
from storage.store import Store

HASHER = PasswordHasher()
ROLES = ("admin", "user", "ingest")
PUBLIC_PATHS = {"/api/health", "/api/auth/login"}
CACHE_SECONDS = 5.0
LOGIN_FAILURES_ALLOWED, LOGIN_WINDOW = 5, 60.0


@dataclass(frozen=True)
class Identity:
    name: str
    role: str
    kind: str
    token_hash: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class AuthService:
    """Users and tokens over the store, with a short cache so each request costs no query."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._cache: dict[str, tuple[float, Identity | None]] = {}
        self._failures: dict[str, deque[float]] = {}

    def bootstrap_admin(self) -> str | None:
        """Create the first admin; return the generated password when none was configured."""
        if self.store.read_sync(accounts.admin_count):
            return None
        password = self.settings.admin_password or secrets.token_urlsafe(15)
        self.store.write_sync(accounts.add_user("admin", hash_password(password), "admin", time.time()))
        return None if self.settings.admin_password else password

    async def login(self, username: str, password: str, client: str) -> tuple[str, str, float]:
        self._throttle(f"{client}|{username}")
        found = await self.store.read(lambda cur: accounts.user(cur, username))
        if found is None or found[2] or not password_matches(found[0], password):
            self._failures.setdefault(f"{client}|{username}", deque()).append(time.monotonic())
            raise NotAuthorizedException("unknown user or wrong password")
        expires = time.time() + self.settings.session_hours * 3600
        token, _ = await self.create_token(found[1], username, username=username, kind="session", expires=expires)
        return token, found[1], expires

    def _throttle(self, key: str) -> None:
        recent = self._failures.setdefault(key, deque())
        while recent and time.monotonic() - recent[0] > LOGIN_WINDOW:
            recent.popleft()
        if len(recent) >= LOGIN_FAILURES_ALLOWED:
            raise TooManyRequestsException("too many failed logins; wait a minute")

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
        return identity

    async def revoke(self, by: str, value: str) -> int:
        count = await self.store.write(accounts.revoke(by, value, time.time()))
        self._cache.clear()
        return count


def bearer(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return connection.query_params.get("token") if connection.scope["type"] == "websocket" else None


class TokenMiddleware(AbstractAuthenticationMiddleware):
    """Every route but the public ones needs a live token; sockets may also send it first thing."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        if connection.scope["path"] in PUBLIC_PATHS:
            return AuthenticationResult(user=None, auth=None)
        token = bearer(connection)
        service: AuthService = connection.app.state.auth
        if token is None:
            if connection.scope["type"] == "websocket":
                return AuthenticationResult(user=None, auth=None)
            raise NotAuthorizedException("missing bearer token (Authorization: Bearer <token>)")
        known, identity = service.cached(token)
        if not known:
            identity = await asyncio.to_thread(service.identify, token)
        if identity is None:
            raise NotAuthorizedException("invalid, expired or revoked token")
        return AuthenticationResult(user=identity, auth=token)


def allowed(role: str, needed: str) -> bool:
    """admin may do everything; user reads; ingest only writes events."""
    return role == "admin" or role == needed


def requires(needed: str):
    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # a sync guard runs in a thread
        identity = connection.scope.get("user")
        if identity is None:
            if connection.scope["type"] == "websocket":
                return  # checked after the first message
            raise NotAuthorizedException("missing bearer token")
        if not allowed(identity.role, needed):
            raise PermissionDeniedException(f"this route needs the {needed} role; your token has {identity.role}")

    return guard
