"""The Litestar app: every route listed here, storage and loops tied to its lifespan."""

from __future__ import annotations

import asyncio
import logging
import sys
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig

from backend import (routes_auth, routes_demo, routes_history, routes_ingest, routes_live, routes_oidc,
                     routes_results, routes_users)
from backend.analytics import AnalyticsCache
from backend.auth import REDACT_TOKENS, AuthService, TokenMiddleware
from backend.background import Maintenance
from backend.ingest import IngestService
from backend.layouts import LayoutService
from backend.live import Hub
from backend.oidc import SingleSignOn
from backend.openapi_doc import DocumentedJson
from backend.routes_layout import LayoutController
from backend.routes_monitoring import MonitoringController
from backend.settings import Settings
from backend.validation import name_client_parameters
from storage.store import Store

log = logging.getLogger("dtmon")
# The app reads X-Forwarded-For itself, from DTMON_TRUSTED_PROXIES only; uvicorn would trust loopback.
UVICORN_OPTIONS = {"proxy_headers": False}


def route_handlers() -> list:
    """All routes of the API, in one place."""
    core = [
        routes_live.health, routes_live.metrics, routes_live.monitoring_socket,
        routes_auth.login, routes_auth.start_session, routes_auth.end_session, routes_auth.logout, routes_auth.me,
        routes_auth.change_password, routes_auth.TokenController, routes_oidc.oidc_login,
        routes_users.UserController, routes_users.SessionController,
        routes_ingest.ingest, routes_ingest.ingest_socket,
        MonitoringController, LayoutController,
    ]
    return core + routes_results.ROUTE_HANDLERS + routes_history.ROUTE_HANDLERS + routes_demo.ROUTE_HANDLERS


def create_app(settings: Settings, store: Store | None = None) -> Litestar:
    store = store or Store(settings.db, settings.duckdb_memory_limit, settings.duckdb_threads,
                           settings.commit_interval_ms)
    state = State({"settings": settings, "store": store})

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await open_backend(app.state)
        try:
            yield
        finally:
            await close_backend(app.state)

    return Litestar(
        route_handlers=route_handlers(),
        state=state,
        lifespan=[lifespan],
        middleware=[DefineMiddleware(TokenMiddleware)],
        exception_handlers={ValidationException: name_client_parameters, UnicodeDecodeError: unreadable_body,
                            RecursionError: unreadable_body},
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="Test fleet monitoring API", version=routes_live.VERSION,
                                     path="/api/schema", render_plugins=[DocumentedJson()]),
    )


def unreadable_body(request: Request, error: Exception) -> Response:
    """msgspec raises these (not a validation error) for invalid UTF-8 and for JSON nested too deeply."""
    reason = "not valid UTF-8" if isinstance(error, UnicodeDecodeError) else "nested too deeply"
    return Response({"status_code": 400, "detail": f"request body: {reason}"}, status_code=400)


async def open_backend(state: State) -> None:
    """Open storage, create the first admin, start the loops."""
    settings, store = state.settings, state.store
    if not store.is_open:
        store.open()
    REDACT_TOKENS.install()
    state.auth = AuthService(store, settings)
    state.auth.verifier.warm()
    state.sso = SingleSignOn(settings, state.auth)
    state.ingest = IngestService(store, settings)
    state.layouts = LayoutService(store)
    state.hub = Hub(store, settings, prepare=state.ingest.fold, settled=state.ingest.settled)
    await state.ingest.recover()
    generated = state.auth.bootstrap_admin()
    if generated:
        announce_admin_password(generated)
    state.analytics = AnalyticsCache(store, settings, lambda: state.ingest.events_accepted.get("test_result", 0))
    state.maintenance = Maintenance(store, settings, state.hub, state.ingest, state.analytics)
    state.maintenance.start()


async def close_backend(state: State) -> None:
    await asyncio.to_thread(routes_demo.stop_demo, state)
    await state.maintenance.close()
    await state.ingest.fold()
    await state.ingest.helpers.close()
    state.store.close()
    state.auth.close()


def announce_admin_password(password: str) -> None:
    """Printed once, at the first start, because no default password exists."""
    print(f"\n  First start: created user 'admin' with password: {password}\n"
          "  It is shown only this once. Change it after signing in: the dashboard's sidebar (Account),\n"
          "  or POST /api/auth/password; with the server stopped: python -m backend users passwd admin\n",
          file=sys.stderr, flush=True)
