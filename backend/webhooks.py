"""Webhook delivery: POST JSON with a timeout and retries, outcomes recorded, never blocking.

Targets must be public: every address the host resolves to is checked when a rule is saved and
again before each delivery, unless the host is named in DTMON_WEBHOOK_ALLOW_HOSTS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from storage import alerts as alert_store
from storage.store import Store

log = logging.getLogger(__name__)


NO_RESPONSE = "no HTTP response (connection refused, failed or timed out)"  # the same for every port


def redact(url: str) -> str:
    """scheme://host[:port]/… : user info, path and query often carry the hook's key."""
    parts = urlsplit(url)
    port = f":{parts.port}" if _port(parts) else ""
    hidden = "/…" if parts.username or parts.password or parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{hidden}"


def _port(parts: Any) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def allowed_hosts(setting: str) -> frozenset[str]:
    """DTMON_WEBHOOK_ALLOW_HOSTS: comma-separated host names (or addresses) exempt from the public-only rule."""
    return frozenset(host.strip().lower() for host in setting.split(",") if host.strip())


async def refused_target(url: str, allowed: frozenset[str]) -> str | None:
    """Why `url` may not be called, or None: its host must resolve to public addresses only."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return "the URL has no host"
    if host in allowed:
        return None
    default_port = 443 if parts.scheme == "https" else 80
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, _port(parts) or default_port,
                                                             type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return f"{host} does not resolve"
    if any(not _public(info[4][0]) for info in infos):
        return f"{host} resolves to a private, loopback or link-local address (see DTMON_WEBHOOK_ALLOW_HOSTS)"
    return None


def _public(text: str) -> bool:
    address = ipaddress.ip_address(text.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class WebhookDispatcher:
    """Delivers payloads on background tasks; `submit` returns at once."""

    def __init__(self, store: Store, timeout_s: float = 5.0, attempts: int = 3,
                 backoff_s: float = 1.0, max_in_flight: int = 100, allowed: frozenset[str] = frozenset()) -> None:
        self.store, self.allowed = store, allowed
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
        refused = await refused_target(url, self.allowed)
        if refused:
            await self._record(url, payload, 0, False, None, f"refused: {refused}")
            return
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
        except httpx.HTTPError:
            return None, NO_RESPONSE
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"

    async def _record(self, url: str, payload: dict[str, Any], attempts: int, ok: bool,
                      status: int | None, error: str | None) -> None:
        """Keep the outcome in alert_deliveries; a storage failure is logged, not raised."""
        alert = payload.get("alert") or {}
        delivery = {"alert_id": alert.get("id"), "rule_id": alert.get("rule_id"), "event": payload.get("event", ""),
                    "url": redact(url), "attempts": attempts, "ok": ok, "status_code": status, "error": error}
        if not ok:
            log.warning("webhook %s failed after %d attempts: %s", redact(url), attempts, error)
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
