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


def describe(rule: Mapping[str, Any], scope: str, value: float | None) -> str:
    """One readable line for banners and webhooks."""
    shown = "no data" if value is None else f"{value:.1f}"
    return (f"{METRICS.get(rule['metric'], rule['metric'])} is {shown} on {scope} "
            f"(rule: {rule['comparison']} {float(rule['threshold']):g} for {float(rule['for_seconds']):g} s)")


def _step(rule: dict[str, Any], scope: str, value: float | None, prior: SubjectState | None,
          now: datetime) -> tuple[SubjectState | None, Transition | None]:
    """Advance one (rule, scope) by one observation."""
    if not breaches(rule, value):
        if prior and prior.firing:
            return None, Transition("resolve", rule, scope, value, now, describe(rule, scope, value))
        return None, None
    state = prior or SubjectState(breaching_since=now)
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


def _orphans(enabled: Mapping[int, dict[str, Any]], previous: Mapping[Key, SubjectState],
             now: datetime) -> list[Transition]:
    """Firing alerts whose rule was disabled or deleted resolve."""
    gone = {"id": 0, "name": "rule removed or disabled", "metric": "", "comparison": ">",
            "threshold": 0, "for_seconds": 0, "severity": "info"}
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

    async def restore(self) -> None:
        """Resume the firing alerts stored before a restart, so they can resolve."""
        keys = await self.store.read(alert_store.firing_keys)
        self.state = {(rule_id, scope): SubjectState(started, True) for rule_id, scope, started in keys}

    async def tick(self, now: datetime | None = None) -> list[Transition]:
        """One evaluation: observe, evaluate, persist, notify."""
        now = now or alert_store.utc_now()
        rules = await self.store.read(lambda cur: alert_store.list_rules(cur, enabled_only=True))
        observations = await self.store.read(lambda cur: observe(cur, rules, now, self.health, self.observers))
        self.state, transitions = evaluate(rules, observations, self.state, now)
        if transitions:
            alerts = await self.store.write(lambda con: _persist(con, transitions))
            self._notify(transitions, alerts)
        return transitions

    def _notify(self, transitions: list[Transition], alerts: list[dict[str, Any] | None]) -> None:
        """Hand webhook payloads to the dispatcher, which never blocks this loop."""
        for transition, alert in zip(transitions, alerts):
            url = transition.rule.get("webhook_url")
            if url and alert and self.dispatcher is not None:
                self.dispatcher.submit(url, webhook_payload(transition, alert))


def _persist(con: Any, transitions: list[Transition]) -> list[dict[str, Any] | None]:
    """Write fire/resolve rows and return the stored alerts in the same order."""
    stored = []
    for item in transitions:
        if item.kind == "fire":
            alert_id = alert_store.open_alert(con, item.rule, item.scope, item.at, item.value, item.message)
        else:
            alert_id = alert_store.close_alert(con, item.rule["id"], item.scope, item.at, item.value)
        stored.append(alert_store.get_alert(con, alert_id) if alert_id is not None else None)
    return stored


def webhook_payload(transition: Transition, alert: dict[str, Any]) -> dict[str, Any]:
    """JSON body POSTed to a rule's webhook."""
    event = "firing" if transition.kind == "fire" else "resolved"
    rule = {name: transition.rule.get(name) for name in
            ("id", "name", "metric", "comparison", "threshold", "for_seconds", "severity")}
    return {"event": event, "alert": alert, "rule": rule, "message": transition.message}


def cluster_health(settings: Settings) -> Callable[[Any], float | None]:
    """The health score the Cluster view shows, as an alert metric."""
    from backend import monitoring

    return lambda cursor: monitoring.cluster(settings)(cursor)["health"]["score"]


async def run_alert_loop(store: Store, settings: Settings, stop: asyncio.Event, health: Callable | None = None,
                         observers: Observers | None = None) -> None:
    """Background task: evaluate every DTMON_ALERT_INTERVAL seconds until `stop` is set."""
    from backend.webhooks import WebhookDispatcher, allowed_hosts

    dispatcher = WebhookDispatcher(store, timeout_s=settings.webhook_timeout,
                                   allowed=allowed_hosts(settings.webhook_allow_hosts))
    evaluator = AlertEvaluator(store, dispatcher, health or cluster_health(settings), observers)
    interval = settings.alert_interval
    try:
        await evaluator.restore()
        while not stop.is_set():
            await _tick_safely(evaluator)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
    finally:
        await dispatcher.close()


async def _tick_safely(evaluator: AlertEvaluator) -> None:
    """One bad tick (e.g. a transient storage error) must not end alerting for the server's life."""
    try:
        await evaluator.tick()
    except Exception:
        log.exception("alert evaluation failed")
