"""Who is on a WebSocket: both socket routes authenticate the same way."""

from __future__ import annotations

import asyncio

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from backend.auth import Identity, allowed

AUTH_TIMEOUT = 10.0


async def socket_identity(socket: WebSocket, role: str) -> Identity | None:
    """The identity from the Authorization header or a first {"type": "auth"} message; never the URL."""
    if "token" in socket.query_params:
        await socket.close(code=4401, reason="send the token in the Authorization header or a first auth message")
        return None
    identity = socket.scope.get("user")
    if identity is None:
        try:
            first = await asyncio.wait_for(socket.receive_json(), timeout=AUTH_TIMEOUT)
        except (asyncio.TimeoutError, WebSocketDisconnect, ValueError):
            first = {}
        token = first.get("token") if isinstance(first, dict) and first.get("type") == "auth" else None
        identity = await asyncio.to_thread(socket.app.state.auth.identify, token) if token else None
    if identity is None:
        await socket.close(code=4401, reason="authentication required")
        return None
    if not allowed(identity.role, role):
        await socket.close(code=4403, reason=f"this socket needs the {role} role")
        return None
    return identity
