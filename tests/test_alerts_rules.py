"""Pure alert evaluation: each default rule fires and resolves on a scripted scenario."""

from datetime import datetime, timedelta

import pytest

from backend.alerts import evaluate, validate_rule
from storage.alerts import DEFAULT_RULES

T0 = datetime(2026, 11, 29, 8, 0, 0)


def default_rules():
    """The shipped defaults as the store returns them."""
    names = ("name", "metric", "comparison", "threshold", "for_seconds", "window_seconds", "severity")
    return [dict(zip(names, values), id=index + 1, enabled=True, scope_kind="all")
            for index, values in enumerate(DEFAULT_RULES)]


def run(rule, script):
    """Feed (seconds, {scope: value}) observations; return [(seconds, kind, scope)]."""
    state, seen = {}, []
    for seconds, observed in script:
        state, transitions = evaluate([rule], {rule["id"]: observed}, state, T0 + timedelta(seconds=seconds))
        seen += [(seconds, item.kind, item.scope) for item in transitions]
    return seen


def rule_named(metric):
    return next(rule for rule in default_rules() if rule["metric"] == metric)


def test_cpu_above_95_for_5_minutes():
    script = [(0, {"worker:a": 97.0}), (200, {"worker:a": 99.0}), (299, {"worker:a": 96.0}),
              (300, {"worker:a": 98.0}), (310, {"worker:a": 99.0}), (320, {"worker:a": 50.0})]
    assert run(rule_named("worker_cpu"), script) == [(300, "fire", "worker:a"), (320, "resolve", "worker:a")]


def test_cpu_dip_restarts_the_for_clock():
    script = [(0, {"worker:a": 97.0}), (200, {"worker:a": 90.0}), (250, {"worker:a": 97.0}),
              (500, {"worker:a": 97.0}), (550, {"worker:a": 97.0})]
    assert run(rule_named("worker_cpu"), script) == [(550, "fire", "worker:a")]


def test_memory_above_90_for_5_minutes_per_worker():
    script = [(0, {"worker:a": 91.0, "worker:b": 10.0}), (300, {"worker:a": 95.0, "worker:b": 95.0}),
              (600, {"worker:a": 80.0, "worker:b": 95.0}), (700, {"worker:b": 20.0})]
    assert run(rule_named("worker_memory"), script) == [
        (300, "fire", "worker:a"), (600, "resolve", "worker:a"),
        (600, "fire", "worker:b"), (700, "resolve", "worker:b")]


def test_worker_offline_fires_after_60_s_and_resolves_when_back():
    script = [(0, {"worker:a": 0.0}), (10, {"worker:a": 1.0}), (69, {"worker:a": 1.0}),
              (70, {"worker:a": 1.0}), (80, {"worker:a": 0.0})]
    assert run(rule_named("worker_offline"), script) == [(70, "fire", "worker:a"), (80, "resolve", "worker:a")]


def test_success_rate_below_80_fires_at_once_and_no_data_resolves():
    script = [(0, {"cluster": 90.0}), (10, {"cluster": 79.9}), (20, {"cluster": 50.0}),
              (30, {"cluster": None})]
    assert run(rule_named("cluster_success_rate"), script) == [(10, "fire", "cluster"), (30, "resolve", "cluster")]


def test_disabled_rule_resolves_its_firing_alerts():
    rule = rule_named("cluster_success_rate")
    state, _ = evaluate([rule], {rule["id"]: {"cluster": 10.0}}, {}, T0)
    _, transitions = evaluate([{**rule, "enabled": False}], {}, state, T0 + timedelta(seconds=5))
    assert [(item.kind, item.rule["id"], item.scope) for item in transitions] == [("resolve", rule["id"], "cluster")]


def test_validate_rule_accepts_and_rejects():
    rule = validate_rule({"name": "gpu box hot", "metric": "worker_cpu", "comparison": ">", "threshold": 80,
                          "for_seconds": 60, "scope_kind": "hardware", "scope_value": "cuda", "severity": "critical"})
    assert rule["scope_kind"] == "hardware"
    bad = [
        {"name": "x", "metric": "nope", "comparison": ">", "threshold": 1},
        {"name": "x", "metric": "worker_cpu", "comparison": "~", "threshold": 1},
        {"name": "x", "metric": "worker_cpu", "comparison": ">", "threshold": "high"},
        {"name": "x", "metric": "cluster_success_rate", "comparison": "<", "threshold": 1, "scope_kind": "worker", "scope_value": "a"},
        {"name": "x", "metric": "worker_cpu", "comparison": ">", "threshold": 1, "scope_kind": "worker"},
        {"name": "x", "metric": "worker_cpu", "comparison": ">", "threshold": 1, "webhook_url": "file:///etc/passwd"},
        {"metric": "worker_cpu", "comparison": ">", "threshold": 1},
    ]
    for data in bad:
        with pytest.raises(ValueError):
            validate_rule(data)


def test_values_read_with_unit_and_window():
    from backend.alerts import describe, duration, shown_value
    assert shown_value("worker_memory", 91.26) == "91.3 %"
    assert shown_value("pending_tasks", 12.0) == "12"
    assert shown_value("cluster_health", 63.04) == "63.0 / 100"
    assert shown_value("worker_cpu", None) == "no data"
    assert [duration(s) for s in (45, 60, 900, 3600, 5400)] == ["45 s", "1 min", "15 min", "1 h", "90 min"]
    failure = {"metric": "task_failure_rate_by_type", "window_seconds": 3600}
    assert describe(failure, "type:benchmark", 33.33) == "failure rate over the last 1 h is 33.3 % for benchmark tasks"
    offline = rule_named("worker_offline")
    assert [describe(offline, "worker:w", v) for v in (1.0, 0.0, None)] == [
        "w is offline", "w is no longer offline", "w is no longer reported (removed)"]


def test_only_moved_values_of_firing_alerts_update():
    from backend.alerts import value_updates
    rule = rule_named("worker_cpu")
    state, _ = evaluate([rule], {rule["id"]: {"worker:a": 97.0, "worker:b": 97.0}}, {}, T0)
    state, _ = evaluate([rule], {rule["id"]: {"worker:a": 97.0, "worker:b": 97.0}}, state, T0 + timedelta(seconds=300))
    moved, _ = evaluate([rule], {rule["id"]: {"worker:a": 98.0, "worker:b": 97.0}}, state, T0 + timedelta(seconds=310))
    updates = value_updates([rule], state, moved, T0 + timedelta(seconds=310))
    assert [(u.kind, u.scope, u.value, u.message) for u in updates] == [("update", "worker:a", 98.0, "CPU is 98.0 % on a")]
