"""The shared live subscriber against a real backend: token hand-over, fallback and return to live."""

import time

from tests.ui.conftest import dashboard
from ui import data
from ui.live import LiveSubscriber


def wait_until(condition, seconds: float = 30.0) -> None:
    """Poll a condition a background thread makes true."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.1)


def ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/api/ws/monitoring"


def test_refused_token_is_dropped_and_the_next_viewer_token_is_used(live_backend):
    subscriber = LiveSubscriber(ws(live_backend.url), retry_seconds=0.1)
    try:
        subscriber.offer_token("revoked-or-made-up")
        subscriber.offer_token(live_backend.user_token)
        wait_until(subscriber.is_live)
        assert subscriber._current_token() == live_backend.user_token
        assert subscriber.section("cluster")["total_workers"] == 0
    finally:
        subscriber.stop()


def test_signing_out_hands_the_subscription_to_another_viewer(live_backend):
    subscriber = LiveSubscriber(ws(live_backend.url), retry_seconds=0.1)
    try:
        subscriber.offer_token(live_backend.admin_token)
        subscriber.offer_token(live_backend.user_token)
        wait_until(subscriber.is_live)
        subscriber.withdraw_token(live_backend.admin_token)
        wait_until(lambda: subscriber._current_token() == live_backend.user_token and subscriber.is_live())
    finally:
        subscriber.stop()


def test_backend_down_says_when_data_last_arrived_and_returns_to_live(seeded_backend, monkeypatch):
    app = dashboard(monkeypatch, seeded_backend.url, seeded_backend.admin_token, "admin")
    app.run()
    live = data.connect(seeded_backend.url).live
    wait_until(live.is_live)
    app.run()
    assert "Live (WebSocket)" in app.sidebar.markdown[0].value
    seeded_backend.stop()
    wait_until(lambda: not live.is_live())
    slot = int(time.time() // 5)  # answers cached in this 5 s slot may still be served; wait them out
    wait_until(lambda: int(time.time() // 5) != slot)
    app.run()
    assert "Not updating" in app.sidebar.markdown[0].value and "Live" not in app.sidebar.markdown[0].value
    assert any(c.value.startswith("Last data arrived ") for c in app.sidebar.caption)  # not a fresh "now"
    assert not app.exception and any("could not answer" in e.value for e in app.error)
    seeded_backend.start()
    wait_until(live.is_live)
    app.run()
    assert "Live (WebSocket)" in app.sidebar.markdown[0].value
    assert {m.label: m.value for m in app.metric}["Total tasks"] == "12"
