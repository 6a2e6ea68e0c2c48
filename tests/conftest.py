"""Shared fixtures: settings on a tmp DuckDB file, the app through TestClient, a live server.

Helpers (bearer, LiveBackend, test_settings, ...) live in tests/support.py: `from support import ...`.
"""

from __future__ import annotations

import httpx
import pytest
from litestar.testing import TestClient

from backend.app import create_app
from support import LiveBackend, attach_tokens, make_settings


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def client(settings):
    """The real app in-process; `client.admin_token`, `.user_token`, `.ingest_token` are ready."""
    with TestClient(create_app(settings)) as test_client:
        attach_tokens(test_client, test_client)
        yield test_client


@pytest.fixture
def live_backend(settings):
    """A real server on a free port; `.url`, tokens, `.stop()`/`.start()` on the same file."""
    backend = LiveBackend(settings).start()
    with httpx.Client(timeout=30) as http:
        attach_tokens(backend, http, backend.url)
    yield backend
    backend.stop()
