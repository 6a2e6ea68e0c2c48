"""Write API: POST /api/ingest and the /api/ws/ingest socket, both acknowledged after commit."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, WebSocket, post, websocket
from litestar.exceptions import WebSocketDisconnect

from backend.auth import requires
from backend.ingest import BatchError
from backend.responses import rejected
from backend.schemas import IngestResult
from backend.socket_auth import socket_identity


@post("/api/ingest", guards=[requires("ingest")], status_code=200)
async def ingest(request: Request) -> Response[Any]:
    """Accept a batch of events; 200 means it is on disk."""
    try:
        accepted, _ = await request.app.state.ingest.ingest_body(await request.body())
    except BatchError as error:
        return rejected(error)
    return Response(IngestResult(accepted=accepted))


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
