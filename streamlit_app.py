"""Entry point: `streamlit run streamlit_app.py` serves the dashboard and, by default, the API on one port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import streamlit as st
from starlette.routing import Mount

from backend.clients import undo_loopback_forwarding
from backend.settings import Settings


class KeepApiPrefix:
    """ASGI wrapper so the mounted backend still sees `/api/...` paths."""

    # Starlette's Mount adds "/api" to root_path and Litestar strips root_path from the path,
    # so routes declared as /api/... would 404; restoring the parent's root_path keeps them.
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Forward the request with the root_path it had before the mount and its real loopback peer."""
        if scope["type"] in ("http", "websocket"):
            scope = dict(undo_loopback_forwarding(scope), root_path=scope.get("app_root_path", ""))
        await self.inner(scope, receive, send)


def embedded_backend(settings: Settings) -> tuple[list[Mount], Any]:
    """Mount the backend under /api with a lifespan that starts it; nothing when DTMON_API_URL is set."""
    if settings.api_url:
        return [], None
    from backend.app import create_app

    api = create_app(settings)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        # A Mount never runs the mounted app's lifespan: storage and background loops start here.
        async with api.lifespan():
            yield

    return [Mount("/api", app=KeepApiPrefix(api))], lifespan


def use_navigation_only() -> None:
    """Stop Streamlit treating pages/ as an old-style page folder on the first session of a process."""
    # With pages/ beside the router, the first session runs Streamlit's legacy folder mode and
    # answers a deep link such as /monitoring with a "Page not found" dialog before
    # st.navigation takes over; declaring up front that st.navigation routes avoids that.
    from streamlit.runtime.pages_manager import PagesManager

    if hasattr(PagesManager, "uses_pages_directory"):
        PagesManager.uses_pages_directory = False


use_navigation_only()
SETTINGS = Settings.from_env()
API_ROUTES, API_LIFESPAN = embedded_backend(SETTINGS)

app = st.App("dashboard.py", routes=API_ROUTES, lifespan=API_LIFESPAN)
