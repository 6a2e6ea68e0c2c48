"""Single sign-on: an OpenID Connect ID token, checked against its provider's keys, becomes a session."""

from __future__ import annotations

import time
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, PermissionDeniedException

from backend.auth import AuthService
from backend.settings import Settings
from storage import accounts

KEYS_SECONDS = 300.0  # providers rotate keys rarely
REFETCH_SECONDS = 30.0
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
USERNAME_PREFIX = "sso:"  # local usernames cannot contain ':', so no identity can take over a local account


def listed(values: str) -> set[str]:
    """A comma-separated setting as a set of trimmed values."""
    return {value.strip() for value in values.split(",") if value.strip()}


def role_for(claims: dict[str, Any], settings: Settings) -> str | None:
    """admin or user from the role claim (a string or a list), or None when the identity is not allowed."""
    found = claims.get(settings.oidc_role_claim)
    values = {found} if isinstance(found, str) else {str(v) for v in found or [] if isinstance(v, (str, int))}
    if values & listed(settings.oidc_admin_values):
        return "admin"
    allowed = listed(settings.oidc_user_values)
    return "user" if not allowed or values & allowed else None


def username_for(claims: dict[str, Any], settings: Settings) -> str:
    """The dashboard name of an identity: the configured claim, else the subject, marked as single sign-on."""
    name = claims.get(settings.oidc_name_claim)
    return USERNAME_PREFIX + str(name if isinstance(name, str) and name else claims["sub"])[:120]


class OidcVerifier:
    """Checks ID tokens: signature by the provider's published keys, issuer, audience, expiry."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._metadata: dict[str, Any] | None = None
        self._keys: tuple[float, KeySet] | None = None

    @property
    def configured(self) -> bool:
        return bool(self.settings.oidc_metadata_url and self.settings.oidc_client_id)

    async def claims(self, id_token: str) -> dict[str, Any]:
        """The verified claims of an ID token; 401 naming what is wrong otherwise."""
        if not self.configured:
            raise NotFoundException("single sign-on is not configured on this server (DTMON_OIDC_METADATA_URL)")
        metadata = await self._provider()
        token = await self._verified(id_token, metadata["jwks_uri"])
        registry = jwt.JWTClaimsRegistry(leeway=60, iss={"essential": True, "value": metadata["issuer"]},
                                         aud={"essential": True, "value": self.settings.oidc_client_id},
                                         exp={"essential": True}, sub={"essential": True})
        try:
            registry.validate(token.claims)
        except JoseError as exc:
            raise NotAuthorizedException(f"id_token: {exc.description or exc.error}") from None
        return token.claims

    async def _verified(self, id_token: str, jwks_uri: str) -> jwt.Token:
        """Decode with the cached keys; when they do not verify, refetch once (the provider may have
        rotated them), but at most every REFETCH_SECONDS so forged tokens cannot make us hammer it."""
        for max_age in (KEYS_SECONDS, REFETCH_SECONDS):
            keys = await self._key_set(jwks_uri, max_age)
            try:
                return jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            except ValueError:
                raise NotAuthorizedException("id_token: not a JSON Web Token") from None
            except JoseError:
                continue
        raise NotAuthorizedException("id_token: not signed by the configured provider")

    async def _provider(self) -> dict[str, Any]:
        if self._metadata is None:
            self._metadata = await _get_json(self.settings.oidc_metadata_url)
        return self._metadata

    async def _key_set(self, jwks_uri: str, max_age: float) -> KeySet:
        if self._keys is None or time.monotonic() - self._keys[0] > max_age:
            self._keys = (time.monotonic(), KeySet.import_key_set(await _get_json(jwks_uri)))
        return self._keys[1]


async def _get_json(url: str) -> dict[str, Any]:
    """A provider document; an unreachable provider is the server's problem (502), not the caller's."""
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(url)
            response.raise_for_status()
            return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise HTTPException(status_code=502, detail=f"identity provider unreachable: {exc.__class__.__name__}") from exc


class SingleSignOn:
    """Turns a verified identity into a dashboard session with the role its claims map to."""

    def __init__(self, settings: Settings, auth: AuthService) -> None:
        self.settings, self.auth = settings, auth
        self.verifier = OidcVerifier(settings)

    async def sign_in(self, id_token: str) -> tuple[str, str, str, float]:
        """(session token, role, username, expiry); 403 for identities the mapping gives no role."""
        claims = await self.verifier.claims(id_token)
        username, role = username_for(claims, self.settings), role_for(claims, self.settings)
        if role is None:
            raise PermissionDeniedException(f"{username} is not in a group allowed to use this dashboard")
        store = self.auth.store
        found = await store.read(lambda cur: accounts.user(cur, username))
        if found is not None and found[2]:
            raise PermissionDeniedException(f"{username} is disabled")
        await store.write(accounts.sso_user(username, role, time.time()))  # the mapping decides at every sign-in
        token, expires = await self.auth.start_session(username, role)
        return token, role, username, expires
