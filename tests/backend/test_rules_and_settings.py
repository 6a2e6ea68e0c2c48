"""Pure rules, and the promise that every setting is documented in the README."""

from pathlib import Path

import pytest

from backend import rules
from backend.settings import Settings, env_names

ROOT = Path(__file__).resolve().parents[2]


def fleet(**changes):
    base = {"online": 4, "timed_out": 0, "pressured": 0, "stale": 0, "recent_finished": 0, "recent_failed": 0}
    return base | changes


def test_health_score_rule():
    assert rules.health(fleet())["score"] == 100.0
    degraded = rules.health(fleet(timed_out=4, recent_finished=10, recent_failed=5, pressured=2, stale=1))
    assert degraded["score"] == pytest.approx(100 * (0.4 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5 + 0.1 * 0.75))
    assert degraded["status"] == "warning"
    assert rules.health(fleet(online=0, timed_out=3))["status"] == "critical"
    assert rules.health(fleet(online=0))["status"] == "unknown"


def test_trend_status_says_whether_change_is_good():
    assert rules.trend(90.0, 95.0, True) == {"direction": "down", "value": -5.0, "status": "bad"}
    assert rules.trend(12, 2, None) == {"direction": "up", "value": 10, "status": "neutral"}
    assert rules.trend(None, 3, True)["direction"] == "flat"


def test_link_quality():
    assert rules.link_quality(5, 5.0, 0.0, True) == (1.0, "good")
    assert rules.link_quality(255, 5.0, 0.0, True) == (0.5, "fair")
    assert rules.link_quality(5, 5.0, 2.5, True) == (0.5, "fair")
    assert rules.link_quality(5, 5.0, 0.0, False) == (0.0, "poor")
    assert rules.link_quality(None, None, None, True) == (None, "unknown")


def test_settings_from_env_and_defaults():
    settings = Settings.from_env({"DTMON_HEARTBEAT_INTERVAL": "10", "DTMON_DB": "/tmp/x.duckdb"})
    assert settings.offline_after == 30 and settings.db == "/tmp/x.duckdb"
    with pytest.raises(ValueError, match="DTMON_PORT"):
        Settings.from_env({"DTMON_PORT": "eighty"})


def test_every_setting_is_documented():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in env_names() if f"`{name}`" not in readme]
    assert missing == []
