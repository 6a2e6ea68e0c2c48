"""Alert evaluation: rules + observations + previous state -> fire/resolve transitions."""

from __future__ import annotations

import asyncio
import logging
import math
import operator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from backend.settings import Settings
from storage import alerts as alert_store
from storage.store import Store
from storage.alert_metrics import METRICS, SCOPE_KINDS, Observers, observe

log = logging.getLogger(__name__)

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}
SEVERITIES = ("info", "warning", "critical")
MAX_RULE_SECONDS = 30 * 86400
Key = tuple[int, str]


@dataclass(frozen=True)
class SubjectState:
    """What the evaluator remembers about one (rule, scope): breaching since when, firing or not."""

    breaching_since: datetime
    firing: bool = False
    value: float | None = None


@dataclass(frozen=True)
class Transition:
    """An alert that starts firing or resolves at `at`."""

    kind: str
    rule: dict[str, Any]
    scope: str
    value: float | None
    at: datetime
    message: str


def breaches(rule: Mapping[str, Any], value: float | None) -> bool:
    """True when the observed value satisfies the rule's comparison."""
    if value is None:
        return False
    return COMPARISONS[rule["comparison"]](float(value), float(rule["threshold"]))


# What each metric measures and the unit its rounded value is shown in.
LABELS = {"worker_cpu": ("CPU", "%"), "worker_memory": ("memory", "%"),
          "cluster_success_rate": ("success rate", "%"), "cluster_health": ("health score", "/ 100"),
          "pending_tasks": ("pending tasks", ""), "task_failure_rate_by_type": ("failure rate", "%"),
          "task_failure_rate_by_hardware": ("failure rate", "%")}
OFFLINE_WORDS = {1.0: "offline", None: "no longer reported (removed)"}
WINDOWED = {"cluster_success_rate", "task_failure_rate_by_type", "task_failure_rate_by_hardware"}


def shown_value(metric: str, value: float | None) -> str:
    """The value rounded, with its unit: what a person reads, not a raw float."""
    if value is None:
        return "no data"
    unit = LABELS.get(metric, ("", ""))[1]
    rounded = f"{value:,.0f}" if metric == "pending_tasks" else f"{value:,.1f}"
    return f"{rounded} {unit}".strip()


def duration(seconds: float) -> str:
    """15 min, 1 h, 45 s: how windows and hold times read on screen."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def describe(rule: Mapping[str, Any], scope: str, value: float | None) -> str:
    """One line with the current value, its unit and, for windowed rates, the window it covers."""
    kind, _, name = scope.partition(":")
    if rule["metric"] == "worker_offline":
        return f"{name} is {OFFLINE_WORDS.get(value, 'no longer offline')}"
    label = LABELS.get(rule["metric"], (METRICS.get(rule["metric"], rule["metric"]), ""))[0]
    window = f" over the last {duration(float(rule['window_seconds']))}" if rule["metric"] in WINDOWED else ""
    subject = {"worker": f" on {name}", "hardware": f" on {name}", "type": f" for {name} tasks"}.get(kind, "")
    return f"{label}{window} is {shown_value(rule['metric'], value)}{subject}"


def _step(rule: dict[str, Any], scope: str, value: float | None, prior: SubjectState | None,
          now: datetime) -> tuple[SubjectState | None, Transition | None]:
    """Advance one (rule, scope) by one observation."""
    if not breaches(rule, value):
        if prior and prior.firing:
            return None, Transition("resolve", rule, scope, value, now, describe(rule, scope, value))
        return None, None
    state = replace(prior or SubjectState(breaching_since=now), value=value)
    held_long_enough = now - state.breaching_since >= timedelta(seconds=float(rule["for_seconds"]))
    if held_long_enough and not state.firing:
        message = describe(rule, scope, value)
        return replace(state, firing=True), Transition("fire", rule, scope, value, now, message)
    return state, None


def evaluate(
    rules: list[dict[str, Any]],
    observations: Mapping[int, Mapping[str, float | None]],
    previous: Mapping[Key, SubjectState],
    now: datetime,
) -> tuple[dict[Key, SubjectState], list[Transition]]:
    """Pure: compute the next state and the fire/resolve transitions at `now`."""
    enabled = {rule["id"]: rule for rule in rules if rule.get("enabled", True)}
    next_state: dict[Key, SubjectState] = {}
    transitions: list[Transition] = []
    for rule_id, rule in enabled.items():
        kept = {key: state for key, state in previous.items() if key[0] == rule_id}
        try:
            if rule_id not in observations:  # not measurable this time: nothing changes for it
                raise ValueError("no observation")
            states, found = _evaluate_rule(rule, observations[rule_id], kept, now)
        except (OverflowError, ValueError, TypeError, KeyError) as error:
            log.warning("alert rule %s skipped in this evaluation: %s", rule_id, error)
            states, found = kept, []
        next_state.update(states)
        transitions.extend(found)
    transitions.extend(_orphans(enabled, previous, now))
    return next_state, transitions


def _evaluate_rule(rule: dict[str, Any], seen: Mapping[str, float | None], previous: Mapping[Key, SubjectState],
                   now: datetime) -> tuple[dict[Key, SubjectState], list[Transition]]:
    """One rule over its scopes; raises on a rule that cannot be evaluated, so it alone is skipped."""
    states: dict[Key, SubjectState] = {}
    transitions: list[Transition] = []
    for scope in sorted(set(seen) | {scope for (_, scope) in previous}):
        state, transition = _step(rule, scope, seen.get(scope), previous.get((rule["id"], scope)), now)
        if state:
            states[(rule["id"], scope)] = state
        if transition:
            transitions.append(transition)
    return states, transitions


def value_updates(rules: list[dict[str, Any]], previous: Mapping[Key, SubjectState],
                  current: Mapping[Key, SubjectState], now: datetime) -> list[Transition]:
    """Alerts still firing whose value moved: the stored value and message follow every evaluation."""
    by_id = {rule["id"]: rule for rule in rules}
    updates = []
    for (rule_id, scope), state in current.items():
        before = previous.get((rule_id, scope))
        if state.firing and before is not None and before.firing and before.value != state.value:
            rule = by_id[rule_id]
            updates.append(Transition("update", rule, scope, state.value, now, describe(rule, scope, state.value)))
    return updates


def _orphans(enabled: Mapping[int, dict[str, Any]], previous: Mapping[Key, SubjectState],
             now: datetime) -> list[Transition]:
    """Firing alerts whose rule was disabled or deleted resolve."""
    gone = {"id": 0, "name": "rule removed or disabled", "metric": "", "comparison": ">",
            "threshold": 0, "for_seconds": 0, "window_seconds": 0, "severity": "info"}
    return [
        Transition("resolve", {**gone, "id": rule_id}, scope, None, now, "rule removed or disabled")
        for (rule_id, scope), state in previous.items()
        if state.firing and rule_id not in enabled
    ]


def validate_rule(data: Mapping[str, Any], partial: bool = False) -> dict[str, Any]:
    """Check a rule from the API; returns the cleaned fields or raises ValueError naming the field."""
    cleaned = {name: data[name] for name in alert_store.EDITABLE_RULE_COLUMNS if name in data}
    required = ("name", "metric", "comparison", "threshold")
    missing = [name for name in required if name not in cleaned and not partial]
    if missing:
        raise ValueError(f"{missing[0]}: required")
    if "name" in cleaned and (not isinstance(cleaned["name"], str) or not cleaned["name"].strip()):
        raise ValueError("name: must be a non-empty string")
    if "enabled" in cleaned and not isinstance(cleaned["enabled"], bool):
        raise ValueError("enabled: must be true or false")
    _check_choice(cleaned, "metric", METRICS)
    _check_choice(cleaned, "comparison", COMPARISONS)
    _check_choice(cleaned, "severity", SEVERITIES)
    for name in ("threshold", "for_seconds", "window_seconds"):
        if name in cleaned and (not isinstance(cleaned[name], (int, float)) or isinstance(cleaned[name], bool)
                                or not math.isfinite(cleaned[name])):
            raise ValueError(f"{name}: must be a finite number")
    if not 0 <= float(cleaned.get("for_seconds", 0)) <= MAX_RULE_SECONDS:
        raise ValueError(f"for_seconds: must be between 0 and {MAX_RULE_SECONDS} (30 days)")
    if not 0 < float(cleaned.get("window_seconds", 1)) <= MAX_RULE_SECONDS:
        raise ValueError(f"window_seconds: must be above 0 and at most {MAX_RULE_SECONDS} (30 days)")
    if abs(float(cleaned.get("threshold", 0))) > 1e15:
        raise ValueError("threshold: must be within ±1e15")
    _check_scope(cleaned)
    _check_webhook(cleaned)
    return cleaned


def _check_choice(cleaned: Mapping[str, Any], name: str, allowed: Mapping[str, Any] | tuple) -> None:
    """A closed vocabulary field must hold one of its words."""
    if name in cleaned and cleaned[name] not in allowed:
        raise ValueError(f"{name}: must be one of {', '.join(allowed)}")


def _check_scope(cleaned: dict[str, Any]) -> None:
    """Scope kinds depend on the metric; a specific scope needs its value."""
    kind = cleaned.setdefault("scope_kind", "all") if "metric" in cleaned else cleaned.get("scope_kind")
    metric = cleaned.get("metric")
    if kind is not None and metric and kind not in SCOPE_KINDS[metric]:
        raise ValueError(f"scope_kind: {metric} allows {', '.join(sorted(SCOPE_KINDS[metric]))}")
    if kind not in (None, "all") and not cleaned.get("scope_value"):
        raise ValueError("scope_value: required for this scope_kind")


def _check_webhook(cleaned: dict[str, Any]) -> None:
    """Webhooks are plain http(s) URLs or nothing."""
    url = cleaned.get("webhook_url")
    if url in ("", None):
        if "webhook_url" in cleaned:
            cleaned["webhook_url"] = None
        return
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("webhook_url: must start with http:// or https://")


class AlertEvaluator:
    """Runs `evaluate` against the store each tick and applies its transitions."""

    def __init__(self, store: Store, dispatcher: Any = None, health: Callable | None = None,
                 observers: Observers | None = None) -> None:
        self.store, self.dispatcher, self.health, self.observers = store, dispatcher, health, observers
        self.state: dict[Key, SubjectState] = {}
        self._lock = asyncio.Lock()  # the loop and an on-demand evaluation must not interleave

    async def restore(self) -> None:
        """Resume the firing alerts stored before a restart, so they can resolve."""
        keys = await self.store.read(alert_store.firing_keys)
        self.state = {(rule_id, scope): SubjectState(started, True, value)
                      for rule_id, scope, started, value in keys}

    async def tick(self, now: datetime | None = None) -> list[Transition]:
        """One evaluation: observe, evaluate, persist, notify (value updates are stored, not sent)."""
        async with self._lock:
            now = now or alert_store.utc_now()
            rules = await self.store.read(lambda cur: alert_store.list_rules(cur, enabled_only=True))
            observations = await self.store.read(lambda cur: observe(cur, rules, now, self.health, self.observers))
            previous = self.state
            self.state, transitions = evaluate(rules, observations, previous, now)
            changes = transitions + value_updates(rules, previous, self.state, now)
            if changes:
                alerts = await self.store.write(lambda con: _persist(con, changes))
                self._notify(transitions, alerts)
            return transitions

    def _notify(self, transitions: list[Transition], alerts: list[dict[str, Any] | None]) -> None:
        """Hand webhook payloads to the dispatcher, which never blocks this loop."""
        for transition, alert in zip(transitions, alerts):
            url = transition.rule.get("webhook_url")
            if url and alert and self.dispatcher is not None:
                self.dispatcher.submit(url, webhook_payload(transition, alert))


def _persist(con: Any, changes: list[Transition]) -> list[dict[str, Any] | None]:
    """Write fire/resolve rows and moved values, a few statements however many alerts change (a fleet
    going offline at once must not hold the writer for a statement per alert); returns the stored
    alerts of fire/resolve in order."""
    fired = alert_store.open_alerts(con, [(t.rule["id"], t.rule["name"], t.rule["severity"], t.scope, t.at, t.value,
                                           t.message) for t in changes if t.kind == "fire"])
    resolved = alert_store.close_alerts(con, [(t.rule["id"], t.scope, t.at, t.value)
                                              for t in changes if t.kind == "resolve"])
    alert_store.update_values(con, [(item.rule["id"], item.scope, item.value, item.message)
                                    for item in changes if item.kind == "update"])
    ids = [(fired if t.kind == "fire" else resolved).get((t.rule["id"], t.scope))
           for t in changes if t.kind in ("fire", "resolve")]
    stored = alert_store.alerts_by_id(con, [alert_id for alert_id in ids if alert_id is not None])
    return [stored.get(alert_id) for alert_id in ids]


def webhook_payload(transition: Transition, alert: dict[str, Any]) -> dict[str, Any]:
    """JSON body POSTed to a rule's webhook."""
    event = "firing" if transition.kind == "fire" else "resolved"
    rule = {name: transition.rule.get(name) for name in
            ("id", "name", "metric", "comparison", "threshold", "for_seconds", "severity")}
    return {"event": event, "alert": alert, "rule": rule, "message": transition.message}


def cluster_health(settings: Settings) -> Callable[[Any], float | None]:
    """The health score the Cluster view shows, as an alert metric."""
    from backend import monitoring

    return lambda cursor: monitoring.health_score(settings)(cursor)


async def run_alert_loop(evaluator: AlertEvaluator, interval: float, stop: asyncio.Event) -> None:
    """Background task: evaluate every DTMON_ALERT_INTERVAL seconds until `stop` is set."""
    try:
        await evaluator.restore()
        while not stop.is_set():
            await _tick_safely(evaluator)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
    finally:
        if evaluator.dispatcher is not None:
            await evaluator.dispatcher.close()


async def _tick_safely(evaluator: AlertEvaluator) -> None:
    """One bad tick (e.g. a transient storage error) must not end alerting for the server's life."""
    try:
        await evaluator.tick()
    except Exception:
        log.exception("alert evaluation failed")
