"""Response shapes shared by several route modules (route modules do not import each other)."""

from __future__ import annotations

from litestar import Response

from backend.ingest import BatchError


def listed(rows: list[dict], total: int) -> Response[list[dict]]:
    """A page of rows with the total before paging in X-Total-Count."""
    return Response(rows, headers={"X-Total-Count": str(total), "Access-Control-Expose-Headers": "X-Total-Count"})


def rejected(error: BatchError) -> Response[dict]:
    """422 naming the first bad event and its field."""
    return Response(rejection(error), status_code=422)


def rejection(error: BatchError) -> dict:
    return {"status_code": 422, "detail": error.detail, "extra": error.extra()}
