"""One WebSocket subscription per Streamlit process holding the latest monitoring snapshot."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import connect

SECTIONS = ("cluster", "workers", "tasks", "resources", "hardware", "network", "alerts")
# Close codes and HTTP statuses that mean "this token may not subscribe": try another token.
_AUTH_CLOSE_CODES = {1008, 4001, 4003, 4401, 4403}
_AUTH_HTTP_STATUSES = {401, 403}
_MAX_MESSAGE_BYTES = 256 * 1024 * 1024
# The backend pushes only changes, so a quiet open socket means "no news"; pings prove it is open.
_PING_INTERVAL, _PING_TIMEOUT = 5.0, 15.0


def merge_update(snapshot: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """Apply one monitoring_update: a full one replaces everything, a partial one its sections."""
    base = {} if message.get("full") else dict(snapshot)
    base.update({key: message[key] for key in SECTIONS if key in message})
    base["generated_at"] = message.get("generated_at")
    return base


class LiveSubscriber:
    """Background thread keeping the freshest snapshot; pages read it without any request."""

    def __init__(self, ws_url: str, connector: Callable[..., Any] = connect,
                 retry_seconds: float = 2.0) -> None:
        self.ws_url = ws_url
        self._connector = connector
        self._retry_seconds = retry_seconds
        self._tokens: list[str] = []
        self._lock = threading.Lock()
        self._token_offered = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.snapshot: dict[str, Any] = {}
        self.connected = False
        self.current_at: datetime | None = None
        self.last_error: str | None = None

    def offer_token(self, token: str) -> None:
        """A logged-in viewer lends its token; the first one lent is used until it stops working."""
        with self._lock:
            if token not in self._tokens:
                self._tokens.append(token)
        self._token_offered.set()
        self.start()

    def withdraw_token(self, token: str) -> None:
        """Forget a token (logout or revoked) so the next connection uses another viewer's."""
        with self._lock:
            if token in self._tokens:
                self._tokens.remove(token)

    def is_live(self) -> bool:
        """True while the socket is open and has delivered at least one snapshot."""
        return self.connected and bool(self.snapshot)

    def current_as_of(self) -> datetime | None:
        """When the snapshot last matched the backend: its last message, or a quiet second on a pinged socket."""
        return self.current_at if self.is_live() else None

    def section(self, name: str) -> Any:
        """One section of the latest snapshot, or None when not live or not sent yet."""
        return self.snapshot.get(name) if self.is_live() else None

    def start(self) -> None:
        """Start the background thread once; later calls do nothing."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="dtmon-live", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish after its current receive."""
        self._stop.set()
        self._token_offered.set()

    def _current_token(self) -> str | None:
        """The token to subscribe with: the oldest one still lent."""
        with self._lock:
            return self._tokens[0] if self._tokens else None

    def _run(self) -> None:
        """Connect, subscribe, receive; on failure wait and retry, dropping tokens the server refuses."""
        while not self._stop.is_set():
            token = self._current_token()
            if token is None:
                self._token_offered.clear()
                self._token_offered.wait(timeout=5)
                continue
            self._session(token)
            if not self._stop.is_set():
                time.sleep(self._retry_seconds)

    def _session(self, token: str) -> None:
        """One connection's lifetime; leaves `connected` False when it ends."""
        try:
            with self._connector(self.ws_url, proxy=None, max_size=_MAX_MESSAGE_BYTES, open_timeout=5,
                                 close_timeout=2, ping_interval=_PING_INTERVAL, ping_timeout=_PING_TIMEOUT) as socket:
                socket.send(json.dumps({"type": "auth", "token": token}))
                socket.send(json.dumps({"type": "subscribe_to_monitoring"}))
                self._receive(socket, token)
        except InvalidStatus as exc:
            self._fail(f"refused: HTTP {exc.response.status_code}", token,
                       exc.response.status_code in _AUTH_HTTP_STATUSES)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            self._fail(f"closed ({code})", token, code in _AUTH_CLOSE_CODES)
        except (OSError, WebSocketException, TimeoutError) as exc:
            self._fail(f"{exc.__class__.__name__}: {exc}", token, False)

    def _receive(self, socket: Any, token: str) -> None:
        """Merge updates until the socket closes, the token is withdrawn or we are stopped."""
        while not self._stop.is_set() and token == self._current_token():
            try:
                raw = socket.recv(timeout=1.0)
            except TimeoutError:
                self.current_at = datetime.now(timezone.utc) if self.connected else None
                continue
            message = json.loads(raw)
            if message.get("type") == "monitoring_update":
                self.snapshot = merge_update(self.snapshot, message)
                self.current_at = datetime.now(timezone.utc)
                self.connected = True
                self.last_error = None
        self.connected = False

    def _fail(self, reason: str, token: str, token_refused: bool) -> None:
        """Record why the socket is down; pages fall back to REST polling meanwhile."""
        self.connected = False
        self.last_error = reason
        if token_refused:
            self.withdraw_token(token)
