"""The baseline for single-event ingest: a bare Litestar endpoint that decodes the body with msgspec.

No authentication, no storage: what uvicorn + Litestar + msgspec cost per request on this machine.
bench/heartbeats.py serves it with the same uvicorn options as `python -m backend serve`.
"""

from __future__ import annotations

from litestar import Litestar, Request, post

from backend.ingest import DECODER
from backend.schemas import IngestResult


@post("/api/ingest", status_code=200)
async def ingest(request: Request) -> IngestResult:
    return IngestResult(accepted=len(DECODER.decode(await request.body()).events))


app = Litestar(route_handlers=[ingest])
