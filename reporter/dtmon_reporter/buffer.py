"""Bounded, thread-safe event buffer that drops the oldest events and counts them."""

from __future__ import annotations

import collections
import threading
from typing import Any

Event = dict[str, Any]


class EventBuffer:
    """Holds events until the backend acknowledges them, so a slow backend costs memory only up to a bound."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._items: collections.deque[tuple[int, Event]] = collections.deque()
        self._next_seq = 0
        self._dropped = 0
        self._lock = threading.Lock()
        self._arrived = threading.Event()  # set on empty -> non-empty only: a Condition per put is too slow

    def put(self, event: Event) -> None:
        """Appends without ever blocking; evicts the oldest event when full."""
        with self._lock:
            was_empty = not self._items
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self._dropped += 1
            self._items.append((self._next_seq, event))
            self._next_seq += 1
        if was_empty:
            self._arrived.set()

    def peek(self, limit: int) -> list[tuple[int, Event]]:
        """Returns the oldest (seq, event) pairs without removing them: they stay until acknowledged."""
        with self._lock:
            return [self._items[i] for i in range(min(limit, len(self._items)))]

    def ack(self, last_seq: int) -> None:
        """Removes every event up to last_seq; events already evicted are simply gone."""
        with self._lock:
            while self._items and self._items[0][0] <= last_seq:
                self._items.popleft()

    def discard(self, seq: int) -> None:
        """Removes one event the backend rejected, so it cannot block the rest forever."""
        with self._lock:
            self._items = collections.deque(item for item in self._items if item[0] != seq)

    def wait(self, timeout: float) -> bool:
        """Blocks the sender (never a producer) until an event arrives or timeout passes."""
        if not self._items:
            self._arrived.clear()
            if not self._items:  # re-checked after clear(): a put in between has set the event again
                self._arrived.wait(timeout)
        return bool(self._items)

    def wake(self) -> None:
        """Lets a waiting sender re-check its stop flag at once."""
        self._arrived.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def dropped(self) -> int:
        """How many events were evicted because the buffer was full."""
        with self._lock:
            return self._dropped
