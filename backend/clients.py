"""Who is on the other end of a request: X-Forwarded-For counts only from DTMON_TRUSTED_PROXIES."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = "127.0.0.1"


def _is_trusted(host: str, networks: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _header(scope: dict[str, Any], name: bytes) -> list[str]:
    raw = b",".join(value for key, value in scope.get("headers", []) if key == name)
    return [part.strip() for part in raw.decode("latin-1").split(",") if part.strip()]


def client_address(scope: dict[str, Any], networks: Sequence[Network]) -> str:
    """The peer, or, when the peer is a trusted proxy, the nearest untrusted hop it forwarded for."""
    peer = (scope.get("client") or ("?", 0))[0]
    if not _is_trusted(peer, networks):
        return peer
    hops: Iterable[str] = reversed(_header(scope, b"x-forwarded-for"))
    return next((hop for hop in hops if not _is_trusted(hop, networks)), peer)


def is_https(scope: dict[str, Any], networks: Sequence[Network]) -> bool:
    """Served over TLS, directly or behind a trusted proxy that says so."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    peer = (scope.get("client") or ("?", 0))[0]
    return _is_trusted(peer, networks) and _header(scope, b"x-forwarded-proto")[-1:] == ["https"]


def undo_loopback_forwarding(scope: dict[str, Any]) -> dict[str, Any]:
    """Give back the loopback peer that a server trusting X-Forwarded-For from 127.0.0.1 replaced.

    Streamlit's uvicorn rewrites the client from that header for loopback peers before our app runs
    (its FORWARDED_ALLOW_IPS default); a rewritten client is one of the header's own entries."""
    client = scope.get("client")
    forwarded = _header(scope, b"x-forwarded-for")
    if client and forwarded and any(hop.split(":")[0].strip("[]") == client[0] for hop in forwarded):
        return dict(scope, client=(LOOPBACK, client[1]))
    return scope
