"""Sign-in that cannot stall the server or be used to lock someone out or to probe for names."""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.exceptions import ServiceUnavailableException, TooManyRequestsException

HASHER = PasswordHasher()
WINDOW = 60.0
PAIR_FAILURES = 5  # one client guessing one account's password
CLIENT_FAILURES = 30  # one client spraying many accounts
ACCOUNT_SLOWDOWN_AFTER = 10  # many clients on one account: each further try waits, nobody is locked out
MAX_DELAY = 5.0
MAX_TRACKED = 10_000
MAX_TIMES = 256  # per key: enough to exceed every limit
VERIFY_THREADS = 2
VERIFY_NICENESS = 10
VERIFY_WAITING = 64  # queued checks hold no argon2 memory; beyond this, answer 503 at once


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_hash() -> str:
    """A hash to verify unknown names against, so they cost what known ones cost."""
    return hash_password(secrets.token_urlsafe(16))


def _matches_or_dummy(password_hash: str | None, password: str) -> bool:
    """Verify, against the dummy hash when there is no account, so both take as long."""
    return password_matches(password_hash or dummy_hash(), password) and password_hash is not None


class Attempts:
    """Recent attempt times per key; the least recently seen keys fall out past MAX_TRACKED."""

    def __init__(self, max_keys: int = MAX_TRACKED) -> None:
        self._times: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self.max_keys = max_keys

    def count(self, key: Hashable, now: float) -> int:
        times = self._times.get(key)
        while times and now - times[0] > WINDOW:
            times.popleft()
        if times is not None and not times:
            del self._times[key]
        return len(times or ())

    def add(self, key: Hashable, now: float) -> None:
        self._times.setdefault(key, deque(maxlen=MAX_TIMES)).append(now)
        self._times.move_to_end(key)
        while len(self._times) > self.max_keys:
            self._times.popitem(last=False)

    def forgive(self, key: Hashable) -> None:
        times = self._times.get(key)
        if times:
            times.pop()

    def __len__(self) -> int:
        return len(self._times)


class Throttle:
    """Attempts are counted before the slow check, so a burst cannot slip past the limits."""

    def __init__(self) -> None:
        self.pairs, self.clients, self.accounts = Attempts(), Attempts(), Attempts()

    def admit(self, username: str, client: str) -> float:
        """Count one attempt; raise 429 past the pair or client limit, else return the delay to wait."""
        now = time.monotonic()
        if self.pairs.count((username, client), now) >= PAIR_FAILURES \
                or self.clients.count(client, now) >= CLIENT_FAILURES:
            raise TooManyRequestsException("too many failed sign-ins from this address; wait a minute")
        excess = self.accounts.count(username, now) - ACCOUNT_SLOWDOWN_AFTER
        self.pairs.add((username, client), now)
        self.clients.add(client, now)
        self.accounts.add(username, now)
        return 0.0 if excess < 0 else min(MAX_DELAY, 0.1 * 2 ** min(excess, 16))

    def succeeded(self, username: str, client: str) -> None:
        self.pairs.forgive((username, client))
        self.clients.forgive(client)
        self.accounts.forgive(username)


def _yield_cpu() -> None:
    """Checks run at lower priority (Linux: per thread), so a burst of them leaves the event loop a core."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), VERIFY_NICENESS)
    except (AttributeError, OSError):  # not Linux: the pool's bound alone keeps the loop free
        pass


class Verifier:
    """argon2 checks on a small pool of their own, never on the event loop; a long queue is refused."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(VERIFY_THREADS, thread_name_prefix="dtmon-argon2", initializer=_yield_cpu)
        self._waiting = 0

    def warm(self) -> None:
        """Compute the dummy hash now, so the first unknown name is not the slow one."""
        self._pool.submit(dummy_hash)

    async def run(self, fn, *args):
        if self._waiting >= VERIFY_WAITING:
            raise ServiceUnavailableException("too many sign-ins in progress; retry in a few seconds")
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self._waiting -= 1

    async def matches(self, password_hash: str | None, password: str) -> bool:
        return await self.run(_matches_or_dummy, password_hash, password)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
