"""Dashboard layouts: each signed-in user's own, and the default admins set for everyone."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, put
from litestar.exceptions import PermissionDeniedException

from backend.auth import requires
from backend.layouts import LayoutService
from backend.schemas import Layout, LayoutView
from storage.layouts import DEFAULT_OWNER


def _layouts(request: Request) -> LayoutService:
    return request.app.state.layouts


def _person(request: Request) -> str:
    """Layouts follow people: an API token has no user to save one for."""
    if request.user.kind != "session":
        raise PermissionDeniedException("layouts belong to signed-in users; sign in to save one")
    return request.user.name


class LayoutController(Controller):
    """GET the layout in effect; PUT saves your own; DELETE returns you to the default."""

    path = "/api/layout"
    guards = [requires("user")]

    @get("/")
    async def mine(self, request: Request) -> LayoutView:
        owner = request.user.name if request.user.kind == "session" else None
        return await _layouts(request).effective(owner)

    @put("/")
    async def save_mine(self, request: Request, data: Layout) -> LayoutView:
        await _layouts(request).save(_person(request), data)
        return await _layouts(request).effective(request.user.name)

    @delete("/", status_code=200)
    async def reset_mine(self, request: Request) -> LayoutView:
        await _layouts(request).reset(_person(request))
        return await _layouts(request).default()

    @get("/default")
    async def default(self, request: Request) -> LayoutView:
        return await _layouts(request).default()

    @put("/default", guards=[requires("admin")])
    async def save_default(self, request: Request, data: Layout) -> LayoutView:
        await _layouts(request).save(DEFAULT_OWNER, data)
        return await _layouts(request).default()

    @delete("/default", guards=[requires("admin")], status_code=200)
    async def reset_default(self, request: Request) -> LayoutView:
        await _layouts(request).reset(DEFAULT_OWNER)
        return await _layouts(request).default()
