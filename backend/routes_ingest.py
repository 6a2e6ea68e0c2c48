"""Write API: POST /api/ingest and the /api/ws/ingest socket, both acknowledged after commit."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Request, Response, WebSocket, post, websocket
from litestar.exceptions import WebSocketDisconnect

from backend.auth import Identity, allowed, requires
from backend.ingest import BatchError
from backend.responses import rejected
from backend.schemas import IngestResult

AUTH_TIMEOUT = 10.0


@post("/api/ingest", guards=[requires("ingest")], status_code=200)
async def ingest(request: Request) -> Response[Any]:
    """Accept a batch of events; 200 means it is on disk."""
    try:
        accepted, _ = await request.app.state.ingest.ingest_body(await request.body())
    except BatchError as error:
        return rejected(error)
    return Response(IngestResult(accepted=accepted))


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


@websocket("/api/ws/ingest", guards=[requires("ingest")])
async def ingest_socket(socket: WebSocket) -> None:
    await socket.accept()
    identity = await socket_identity(socket, "ingest")
    if identity is None:
        return
    service = socket.app.state.ingest
    with socket.app.state.auth.watching(identity, socket):
        try:
            while True:
                raw = await socket.receive_data(mode="text")
                await socket.send_json(await _ack(service, raw.encode() if isinstance(raw, str) else raw))
        except (WebSocketDisconnect, RuntimeError):  # RuntimeError: a revocation closed it meanwhile
            return


async def _ack(service, raw: bytes) -> dict:
    try:
        accepted, batch_id = await service.ingest_body(raw)
    except BatchError as error:
        return {"type": "error", "id": _batch_id(raw), "detail": error.detail} | error.extra()
    return {"type": "ack", "id": batch_id, "accepted": accepted}


def _batch_id(raw: bytes) -> Any:
    """The id of a rejected batch, when its JSON is readable at all."""
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return body.get("id") if isinstance(body, dict) else None
