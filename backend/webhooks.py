"""Webhook delivery: POST JSON with a timeout and retries, outcomes recorded, never blocking."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from storage import alerts as alert_store
from storage.store import Store

log = logging.getLogger(__name__)


class WebhookDispatcher:
    """Delivers payloads on background tasks; `submit` returns at once."""

    def __init__(self, store: Store, timeout_s: float = 5.0, attempts: int = 3,
                 backoff_s: float = 1.0, max_in_flight: int = 100) -> None:
        self.store = store
        self.timeout_s, self.attempts, self.backoff_s = timeout_s, attempts, backoff_s
        self.max_in_flight = max_in_flight
        self.tasks: set[asyncio.Task] = set()
        self.client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    def submit(self, url: str, payload: dict[str, Any]) -> None:
        """Queue one delivery; beyond `max_in_flight` it is recorded as dropped, not awaited."""
        if len(self.tasks) >= self.max_in_flight:
            asyncio.get_running_loop().create_task(
                self._record(url, payload, attempts=0, ok=False, status=None, error="dropped: too many deliveries in flight")
            )
            return
        task = asyncio.get_running_loop().create_task(self._deliver(url, payload))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, url: str, payload: dict[str, Any]) -> None:
        """Try up to `attempts` times with doubling backoff; 2xx is success."""
        status, error = None, None
        for attempt in range(1, self.attempts + 1):
            status, error = await self._post_once(url, payload)
            if error is None:
                await self._record(url, payload, attempt, True, status, None)
                return
            if attempt < self.attempts:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        await self._record(url, payload, self.attempts, False, status, error)

    async def _post_once(self, url: str, payload: dict[str, Any]) -> tuple[int | None, str | None]:
        """One POST: (status code, error text or None when delivered)."""
        try:
            response = await self.client.post(url, json=payload)
        except httpx.HTTPError as failure:
            return None, f"{type(failure).__name__}: {failure}"[:500]
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"

    async def _record(self, url: str, payload: dict[str, Any], attempts: int, ok: bool,
                      status: int | None, error: str | None) -> None:
        """Keep the outcome in alert_deliveries; a storage failure is logged, not raised."""
        alert = payload.get("alert") or {}
        delivery = {"alert_id": alert.get("id"), "rule_id": alert.get("rule_id"), "event": payload.get("event", ""),
                    "url": url, "attempts": attempts, "ok": ok, "status_code": status, "error": error}
        if not ok:
            log.warning("webhook %s failed after %d attempts: %s", url, attempts, error)
        try:
            await self.store.write(lambda con: alert_store.record_delivery(con, delivery))
        except Exception:  # the store may be closing at shutdown
            log.exception("could not record webhook delivery")

    async def drain(self) -> None:
        """Wait for deliveries in flight (tests, orderly shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel what is still retrying and close the HTTP client."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)
        await self.client.aclose()
