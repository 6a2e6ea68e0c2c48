"""Write API: POST /api/ingest and the /api/ws/ingest socket, both acknowledged after commit."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import WebSocket, asgi, websocket
from litestar.exceptions import ClientException, MethodNotAllowedException, WebSocketDisconnect
from litestar.types import Receive, Scope, Send

from backend.auth import authorized, requires
from backend.ingest import BatchError
from backend.responses import rejection
from backend.schemas import IngestResult
from backend.socket_auth import socket_identity

EXCLUDE_FROM_AUTH = "exclude_from_auth"  # TokenMiddleware's opt key: this route checks the token itself


@asgi("/api/ingest", is_mount=False, copy_scope=False, opt={EXCLUDE_FROM_AUTH: True, "http_methods": ("POST",)})
async def ingest(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept a batch of events; 200 means it is on disk.

    Plain ASGI: agents send one small request per heartbeat, and Litestar's per-request machinery
    (request object, middleware, guard, DI, response) cost more than their share of the commit. It
    checks the same token and role as every other route.
    """
    if scope["method"] != "POST":
        raise MethodNotAllowedException(headers={"Allow": "POST"})
    state = scope["litestar_app"].state
    await authorized(state.auth, scope["headers"], "ingest")
    try:
        accepted, _ = await state.ingest.ingest_body(await _body(receive, state.settings.max_body_bytes))
    except BatchError as error:
        await _answer(send, 422, rejection(error))
        return
    await _answer(send, 200, IngestResult(accepted=accepted))


async def _body(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientException("the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ClientException(f"request body is larger than {limit} bytes (DTMON_MAX_BODY_BYTES)",
                                  status_code=413)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, content: Any) -> None:
    body = msgspec.json.encode(content)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


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
