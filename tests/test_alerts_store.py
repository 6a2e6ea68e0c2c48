"""The evaluator against a real DuckDB store: alerts persist, resolve, acknowledge, call webhooks."""

import asyncio
import json
import socket
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend.alerts import AlertEvaluator
from backend.webhooks import WebhookDispatcher
from storage import alerts as alert_store
from storage.store import Store

T0 = datetime(2026, 11, 29, 8, 0, 0)


@pytest.fixture()
def store(tmp_path):
    opened = Store(str(tmp_path / "alerts.duckdb")).open()
    yield opened
    opened.close()


def set_worker(store, worker_id, status="active", cpu=10.0, memory=10.0, hardware=("cpu",)):
    store.write_sync(lambda con: con.execute(
        """INSERT OR REPLACE INTO workers (worker_id, hostname, hardware, status, cpu_percent, memory_percent, last_seen)
           VALUES (?, ?, ?, ?, ?, ?, ?)""", [worker_id, worker_id, list(hardware), status, cpu, memory, T0]))


def finish_tasks(store, count, status, at, task_type="test", prefix="t"):
    rows = [(f"{prefix}{status}{i}", task_type, status, "w1", at) for i in range(count)]
    store.write_sync(lambda con: con.executemany(
        "INSERT INTO tasks (task_id, type, status, worker_id, finished_at) VALUES (?, ?, ?, ?, ?)", rows))


def tick(evaluator, seconds):
    return [(item.kind, item.rule["name"], item.scope)
            for item in asyncio.run(evaluator.tick(T0 + timedelta(seconds=seconds)))]


def test_default_rules_fire_and_resolve_on_stored_fleet(store):
    evaluator = AlertEvaluator(store)
    set_worker(store, "w1", cpu=99.0, memory=95.0)
    set_worker(store, "w2", status="offline")
    finish_tasks(store, 3, "completed", T0)
    finish_tasks(store, 2, "failed", T0)
    assert tick(evaluator, 0) == [("fire", "Success rate below 80 %", "cluster")]
    assert tick(evaluator, 60) == [("fire", "Worker offline", "worker:w2")]
    assert sorted(tick(evaluator, 300)) == [("fire", "CPU above 95 %", "worker:w1"),
                                            ("fire", "Memory above 90 %", "worker:w1")]
    active = store.read_sync(alert_store.active_alerts)
    assert {alert["scope"] for alert in active} == {"cluster", "worker:w1", "worker:w2"}
    assert set(active[0]) == {*alert_store.ALERT_COLUMNS, "metric"}
    set_worker(store, "w1", cpu=20.0, memory=30.0)
    set_worker(store, "w2", status="active")
    assert sorted(tick(evaluator, 310)) == [("resolve", "CPU above 95 %", "worker:w1"),
                                            ("resolve", "Memory above 90 %", "worker:w1"),
                                            ("resolve", "Worker offline", "worker:w2")]
    assert tick(evaluator, 0 + 900 + 1) == [("resolve", "Success rate below 80 %", "cluster")]
    history, total = store.read_sync(lambda cur: alert_store.list_alerts(cur))
    assert total == 4 and all(alert["state"] == "resolved" and alert["ended_at"] for alert in history)


def test_restart_resumes_firing_alerts_and_ack(store):
    set_worker(store, "w2", status="offline")
    first = AlertEvaluator(store)
    tick(first, 0)
    tick(first, 60)
    alert_id = store.read_sync(alert_store.active_alerts)[0]["id"]
    assert store.write_sync(lambda con: alert_store.acknowledge(con, alert_id, "alice"))
    assert store.read_sync(lambda cur: alert_store.get_alert(cur, alert_id))["acknowledged_by"] == "alice"
    second = AlertEvaluator(store)
    asyncio.run(second.restore())
    set_worker(store, "w2", status="active")
    assert tick(second, 120) == [("resolve", "Worker offline", "worker:w2")]


class Receiver(BaseHTTPRequestHandler):
    """Local webhook receiver: records JSON bodies, answers 204."""

    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", Receiver.received
    server.shutdown()
    server.server_close()


def add_webhook_rule(store, url):
    rule = {"name": "pending pile-up", "metric": "pending_tasks", "comparison": ">", "threshold": 1,
            "for_seconds": 0, "severity": "warning", "scope_kind": "all", "webhook_url": url}
    return store.write_sync(lambda con: alert_store.insert_rule(con, rule))


def set_pending(store, count):
    store.write_sync(lambda con: con.execute("DELETE FROM tasks WHERE status = 'pending'"))
    rows = [(f"p{i}", "test", "pending") for i in range(count)]
    if rows:
        store.write_sync(lambda con: con.executemany("INSERT INTO tasks (task_id, type, status) VALUES (?, ?, ?)", rows))


def test_webhook_receives_firing_and_resolving(store, receiver):
    url, received = receiver
    add_webhook_rule(store, url)

    async def scenario():
        dispatcher = WebhookDispatcher(store, timeout_s=2.0, allowed=frozenset({"127.0.0.1"}))
        evaluator = AlertEvaluator(store, dispatcher)
        set_pending(store, 5)
        await evaluator.tick(T0)
        set_pending(store, 0)
        await evaluator.tick(T0 + timedelta(seconds=10))
        await dispatcher.drain()
        await dispatcher.close()

    asyncio.run(scenario())
    assert [body["event"] for body in received] == ["firing", "resolved"]
    assert received[0]["alert"]["value"] == 5.0 and received[0]["rule"]["metric"] == "pending_tasks"
    assert received[1]["alert"]["state"] == "resolved" and received[1]["alert"]["ended_at"]
    deliveries = store.read_sync(alert_store.list_deliveries)
    assert [(item["event"], item["ok"], item["attempts"]) for item in deliveries] == [
        ("resolved", True, 1), ("firing", True, 1)]


def test_dead_webhook_does_not_delay_evaluation(store):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections, never answers
    add_webhook_rule(store, f"http://127.0.0.1:{silent.getsockname()[1]}/hook")

    async def scenario():
        dispatcher = WebhookDispatcher(store, timeout_s=0.5, attempts=2, backoff_s=0.1,
                                       allowed=frozenset({"127.0.0.1"}))
        evaluator = AlertEvaluator(store, dispatcher)
        set_pending(store, 5)
        fired = await evaluator.tick(T0)
        in_flight_after_tick = len(dispatcher.tasks)
        active = await store.read(alert_store.active_alerts)
        await dispatcher.drain()
        await dispatcher.close()
        return fired, in_flight_after_tick, active

    fired, in_flight, active = asyncio.run(scenario())
    silent.close()
    assert [item.kind for item in fired] == ["fire"]
    assert in_flight == 1, "the delivery was still in flight when evaluation had already finished"
    assert [alert["scope"] for alert in active] == ["cluster"]
    delivery = store.read_sync(alert_store.list_deliveries)[0]
    assert delivery["ok"] is False and delivery["attempts"] == 2 and "no HTTP response" in delivery["error"]


def test_cluster_health_rule_reads_the_overview_score(store, tmp_path):
    from backend.alerts import cluster_health
    from backend.settings import Settings

    set_worker(store, "w1", cpu=20.0)
    rule = {"name": "fleet unhealthy", "metric": "cluster_health", "comparison": "<=", "threshold": 100,
            "for_seconds": 0, "severity": "info", "scope_kind": "all"}
    store.write_sync(lambda con: alert_store.insert_rule(con, rule))
    evaluator = AlertEvaluator(store, health=cluster_health(Settings(db=str(tmp_path / "unused.duckdb"))))
    fired = [item for item in asyncio.run(evaluator.tick(T0)) if item.rule["name"] == "fleet unhealthy"]
    assert [item.scope for item in fired] == ["cluster"] and 0 <= fired[0].value <= 100


def test_a_firing_alert_carries_its_current_value_rounded_with_unit(store):
    evaluator = AlertEvaluator(store)
    set_worker(store, "w1", cpu=99.04)
    tick(evaluator, 0)
    assert tick(evaluator, 300) == [("fire", "CPU above 95 %", "worker:w1")]
    set_worker(store, "w1", cpu=97.46)
    assert tick(evaluator, 310) == []  # a moved value is stored, not announced
    alert = next(a for a in store.read_sync(alert_store.active_alerts) if a["scope"] == "worker:w1")
    assert (alert["value"], alert["message"], alert["metric"]) == (97.46, "CPU is 97.5 % on w1", "worker_cpu")


def test_success_rate_message_states_its_window(store):
    evaluator = AlertEvaluator(store)
    finish_tasks(store, 7, "completed", T0)
    finish_tasks(store, 3, "failed", T0)
    tick(evaluator, 0)
    alert = store.read_sync(alert_store.active_alerts)[0]
    assert alert["message"] == "success rate over the last 15 min is 70.0 %"


class CountingCursor:
    """The writer's cursor, counting the SQL statements a write sends through it."""

    def __init__(self, cursor) -> None:
        self.cursor, self.statements = cursor, 0

    def __getattr__(self, name):
        if name in ("execute", "executemany", "sql"):
            self.statements += 1
        return getattr(self.cursor, name)


def test_a_fleet_going_offline_fires_and_resolves_in_a_few_statements(store):
    """10,000 workers fall silent: one evaluation fires 10,000 alerts and a later one resolves them, each
    in a handful of statements rather than one per alert (which held the writer for 20 s)."""
    store.write_sync(lambda con: con.execute(
        "INSERT INTO workers (worker_id, hardware, status, last_seen) SELECT 'w' || i, ['cpu'], 'offline', $t "
        "FROM range(10000) r(i)", {"t": T0}))
    evaluator, counted = AlertEvaluator(store), []
    write = store.write

    async def counting_write(fn):
        def run(cursor):
            counting = CountingCursor(cursor)
            try:
                return fn(counting)
            finally:
                counted.append(counting.statements)
        return await write(run)

    store.write = counting_write
    assert tick(evaluator, 0) == []
    fired = tick(evaluator, 60)
    assert len(fired) == 10_000 and {kind for kind, _, _ in fired} == {"fire"}
    assert counted[-1] <= 5
    firing = store.read_sync(lambda cur: cur.execute(
        "SELECT count(*), count(DISTINCT scope) FROM alerts WHERE state = 'firing' AND rule_name = 'Worker offline'"
    ).fetchone())
    assert firing == (10_000, 10_000)
    store.write_sync(lambda con: con.execute("UPDATE workers SET status = 'active'"))
    resolved = tick(evaluator, 70)
    assert len(resolved) == 10_000 and {kind for kind, _, _ in resolved} == {"resolve"}
    assert counted[-1] <= 5
    assert store.read_sync(lambda cur: cur.execute(
        "SELECT count(*) FILTER (state = 'firing'), count(*) FILTER (state = 'resolved' AND ended_at IS NOT NULL) "
        "FROM alerts WHERE rule_name = 'Worker offline'").fetchone()) == (0, 10_000)
