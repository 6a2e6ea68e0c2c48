"""Single sign-on: the dashboard trades the ID token of an OpenID Connect sign-in for a session."""

from __future__ import annotations

from litestar import Request, post

from backend.schemas import OidcLoginRequest, OidcLoginResult, iso


@post("/api/auth/oidc", status_code=200)
async def oidc_login(request: Request, data: OidcLoginRequest) -> OidcLoginResult:
    """No bearer token: the ID token itself, signed by the configured provider, is the credential."""
    token, role, name, expires = await request.app.state.sso.sign_in(data.id_token)
    return OidcLoginResult(token=token, role=role, name=name, expires_at=iso(expires))
