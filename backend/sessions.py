"""The dashboard's session cookie, set and cleared by same-origin form posts answered with a redirect.

A plain HTML form posts the credentials to the API on the dashboard's own origin; the answer sets an
HttpOnly, SameSite=Strict cookie and redirects back, so no script ever sees the token. Another way to
sign in (e.g. OIDC) ends the same way: AuthService.start_session, then `signed_in`."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

from litestar import Request
from litestar.exceptions import PermissionDeniedException
from litestar.response import Redirect

from backend.clients import client_address, is_https

COOKIE = "dtmon_session"
_PAGE_PATH = re.compile(r"/[A-Za-z0-9_\-]*(/[A-Za-z0-9_\-]+)*(\?[A-Za-z0-9_\-.%=&]*)?")


def next_path(value: str | None) -> str:
    """Where to go back to: a page of this origin (with its query) only, never another site."""
    return value if value and _PAGE_PATH.fullmatch(value) else "/"


def client_of(request: Request) -> str:
    return client_address(request.scope, request.app.state.settings.proxy_networks())


def refuse_cross_site(request: Request) -> None:
    """Browsers say where a form post came from; another site may not sign anyone in or out."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise PermissionDeniedException("sign-in and sign-out forms must be posted from the dashboard itself")


def signed_in(request: Request, token: str, expires: float, target: str) -> Redirect:
    response = Redirect(path=target, status_code=303)
    response.set_cookie(COOKIE, token, max_age=max(0, int(expires - time.time())), path="/", httponly=True,
                        samesite="strict", secure=_secure(request))
    return response


def signed_out(request: Request, target: str) -> Redirect:
    response = Redirect(path=target, status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def failed(target: str, reason: str) -> Redirect:
    """Back to the form with why (never the username or password in the URL)."""
    joiner = "&" if "?" in target else "?"
    return Redirect(path=f"{target}{joiner}{urlencode({'signin': reason})}", status_code=303)


def _secure(request: Request) -> bool:
    return is_https(request.scope, request.app.state.settings.proxy_networks())
