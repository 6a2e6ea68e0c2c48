"""Hostile parameters and bodies answer 4xx naming what is wrong, never 500; exports defuse formulas."""

import csv
import io
import time

from support import bearer

HOSTILE_GETS = [
    "/api/monitoring/resources?start=nan", "/api/monitoring/resources?start=-1e20",
    "/api/monitoring/resources?end=inf", "/api/monitoring/resources?start=0001-01-01T00:00:00%2B23:59",
    "/api/monitoring/resources?start=9999-12-31T23:59:59-23:59", "/api/monitoring/workers/w1?start=nan",
    "/api/history?start=1e300", "/api/history?end=-0.5",
    "/api/monitoring/workers?offset=99999999999999999999", "/api/monitoring/tasks?offset=99999999999999999999",
    "/api/monitoring/tasks?priority=99999999999999999999", "/api/alerts?offset=99999999999999999999",
    "/api/monitoring/workers?limit=99999999999999999999",
]


def test_hostile_query_parameters_answer_4xx(client):
    for path in HOSTILE_GETS:
        response = client.get(path, headers=bearer(client.admin_token))
        assert response.status_code < 500, (path, response.text)
    detail = client.get("/api/monitoring/resources?start=nan", headers=bearer(client.user_token)).json()["detail"]
    assert detail.startswith("start:")


def test_export_with_a_bad_parameter_answers_4xx_before_any_byte(client):
    for path in ["/api/export/samples?start=nan", "/api/export/workers?end=-1e20", "/api/export/tasks?end=1e15"]:
        response = client.get(path, headers=bearer(client.user_token))
        assert response.status_code == 400 and response.json()["detail"].split(":")[0] in ("start", "end"), path


def test_invalid_utf8_and_deep_nesting_in_bodies_answer_4xx(client):
    bad = b'{"events": [{"kind": "worker_register", "worker_id": "\xff\xfe"}]}'
    for path, token in [("/api/ingest", client.ingest_token), ("/api/auth/login", None),
                        ("/api/sql", client.admin_token), ("/api/alerts/rules", client.admin_token)]:
        headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
        response = client.post(path, content=bad, headers=headers)
        assert 400 <= response.status_code < 500, (path, response.text)
    deep = b'{"a":' * 10000 + b"1" + b"}" * 10000
    rule = client.post("/api/alerts/rules", content=deep, headers={**bearer(client.admin_token),
                                                                    "Content-Type": "application/json"})
    assert rule.status_code == 400 and "nested too deeply" in rule.text


def test_deep_capabilities_are_refused_naming_the_event(client):
    body = b'{"events": [{"kind": "worker_heartbeat", "worker_id": "w"}, {"kind": "worker_register", ' \
           b'"worker_id": "w", "capabilities": ' + b'{"a":' * 10000 + b'1' + b'}' * 10000 + b'}]}'
    response = client.post("/api/ingest", content=body, headers={**bearer(client.ingest_token),
                                                                  "Content-Type": "application/json"})
    assert response.status_code == 422 and "nested too deeply" in response.text
    nested = {"level": 0}
    for level in range(1, 40):
        nested = {"level": level, "inner": nested}
    response = client.post("/api/ingest", json={"events": [{"kind": "worker_heartbeat", "worker_id": "w"}, {
        "kind": "worker_register", "worker_id": "w", "capabilities": nested}]}, headers=bearer(client.ingest_token))
    assert response.status_code == 422
    assert response.json()["extra"] == {"index": 1, "field": "capabilities"}


def test_far_future_timestamps_are_refused_naming_event_and_field(client):
    now = time.time()
    events = [{"kind": "worker_heartbeat", "worker_id": "w1", "ts": now},
              {"kind": "worker_heartbeat", "worker_id": "w2", "ts": now + 3600}]
    response = client.post("/api/ingest", json={"events": events}, headers=bearer(client.ingest_token))
    assert response.status_code == 422 and response.json()["extra"] == {"index": 1, "field": "ts"}
    assert "DTMON_MAX_CLOCK_SKEW" in response.json()["detail"]
    iso = [{"kind": "worker_register", "worker_id": "w3", "ts": "2999-01-01T00:00:00Z"}]
    assert client.post("/api/ingest", json={"events": iso}, headers=bearer(client.ingest_token)).status_code == 422
    skewed = [{"kind": "worker_heartbeat", "worker_id": "w4", "ts": now + 60}]  # within the allowance
    assert client.post("/api/ingest", json={"events": skewed}, headers=bearer(client.ingest_token)).status_code == 200


def test_csv_export_defuses_spreadsheet_formulas(client):
    events = [{"kind": "worker_register", "worker_id": "=HYPERLINK(\"http://evil\",\"x\")", "hostname": "+cmd|' /C calc'!A0",
               "hardware": ["@sum(1)"]},
              {"kind": "task_finished", "task_id": "-2+3", "status": "failed", "error": "\tTAB", "duration_s": 1.5}]
    assert client.post("/api/ingest", json={"events": events}, headers=bearer(client.ingest_token)).status_code == 200
    workers = list(csv.DictReader(io.StringIO(client.get("/api/export/workers", headers=bearer(client.user_token)).text)))
    assert workers[0]["worker_id"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert workers[0]["hostname"].startswith("'+") and workers[0]["hardware"] == "'@sum(1)"
    tasks = list(csv.DictReader(io.StringIO(client.get("/api/export/tasks", headers=bearer(client.user_token)).text)))
    assert tasks[0]["task_id"] == "'-2+3" and tasks[0]["error"] == "'\tTAB" and tasks[0]["duration_s"] == "1.5"


def test_full_snapshot_requests_are_paced_per_socket(client):
    with client.websocket_connect("/api/ws/monitoring", headers=bearer(client.user_token)) as ws:
        for _ in range(50):
            ws.send_json({"type": "request_monitoring_update"})
        fulls, deadline = 0, time.monotonic() + 2.5
        while time.monotonic() < deadline:
            try:
                message = ws.receive_json(timeout=0.5)
            except Exception:  # noqa: BLE001 - nothing more arrived within the wait
                continue
            fulls += bool(message.get("full"))
        assert 1 <= fulls <= 3, fulls
