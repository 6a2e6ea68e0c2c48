"""The OpenAPI document as the API really answers: Litestar sees handlers' return types, not what
guards, body parsers and routes raise, nor streamed or plain-text media types."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin

from backend.schemas import IngestBatch, IngestResult

ERROR = {"type": "object", "required": ["status_code", "detail"],
         "properties": {"status_code": {"type": "integer"}, "detail": {"type": "string"},
                        "extra": {"type": ["object", "array", "null"]}}}
WHY = {400: "a parameter or the body is invalid (detail names it)", 401: "missing, invalid, expired or revoked token",
       403: "the token's role may not call this route", 404: "no such item (or single sign-on not configured)", 409: "the item already exists",
       413: "body larger than DTMON_MAX_BODY_BYTES", 422: "an event of the batch is invalid (extra names index and field)",
       429: "too many failed sign-ins; retry later"}
MEDIA = {"/api/metrics": ["text/plain"], "/api/export/{dataset}": ["text/csv", "application/vnd.apache.parquet"],
         "/api/admin/snapshot": ["application/octet-stream"]}
WRITES = {"post", "put", "patch"}


def statuses(path: str, method: str) -> list[int]:
    """The error answers of one operation, by the rules every route follows."""
    if path == "/api/health":
        return []
    if path == "/api/auth/login":
        return [400, 401, 413, 429]
    # 404: an id in the path or the body names nothing (or single sign-on is not configured)
    answers = [400, 401, 403, 404] + ([413] if method in WRITES else [])
    if path == "/api/ingest":
        answers.append(422)
    if method == "post" and path in ("/api/auth/users", "/api/auth/tokens"):
        answers.append(409)
    return answers


def ingest_operation(components: dict[str, Any]) -> dict[str, Any]:
    """POST /api/ingest is a plain ASGI route (see backend.routes_ingest), which Litestar leaves out."""
    (batch, result), schemas = msgspec.json.schema_components([IngestBatch, IngestResult],
                                                              ref_template="#/components/schemas/{name}")
    components.update(schemas)
    return {"post": {"summary": "Ingest", "operationId": "ApiIngestIngest",
                     "description": "Accept a batch of events; 200 means it is on disk.",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": batch}}},
                     "responses": {"200": {"description": "the batch is committed",
                                           "content": {"application/json": {"schema": result}}}}}}


def documented(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of Litestar's document with every error answer and the real media types."""
    out = copy.deepcopy(document)
    schemas = out.setdefault("components", {}).setdefault("schemas", {})
    out["paths"] = {"/api/ingest": ingest_operation(schemas)} | out.get("paths", {})
    for path, item in out.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in statuses(path, method):
                responses.setdefault(str(status), {"description": WHY[status],
                                                   "content": {"application/json": {"schema": ERROR}}})
            if path in MEDIA and "200" in responses:
                responses["200"]["content"] = {kind: {"schema": {}} for kind in MEDIA[path]}
    return out


class DocumentedJson(JsonRenderPlugin):
    """Serves `documented(...)` at /api/schema/openapi.json."""

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, documented(openapi_schema))
