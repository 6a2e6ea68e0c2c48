"""Prometheus text from stored data, and the OpenAPI document behind a token."""

from support import bearer


def test_prometheus_metrics_reflect_ingested_data(client):
    events = [{"kind": "worker_heartbeat", "worker_id": "w1", "cpu_percent": 61.5, "memory_used_gb": 2,
               "memory_total_gb": 8},
              {"kind": "task_finished", "task_id": "t1", "worker_id": "w1", "status": "failed"}]
    client.post("/api/ingest", json={"events": events}, headers=bearer(client.ingest_token))
    client.post("/api/ingest", json={"events": [{"kind": "nope"}]}, headers=bearer(client.ingest_token))
    response = client.get("/api/metrics", headers=bearer(client.user_token))
    assert response.headers["content-type"].startswith("text/plain")
    lines = set(response.text.splitlines())
    assert 'dtmon_workers{status="active"} 1.0' in lines
    assert 'dtmon_tasks{status="failed"} 1.0' in lines
    assert 'dtmon_worker_cpu_percent{worker="w1"} 61.5' in lines
    assert 'dtmon_worker_memory_percent{worker="w1"} 25.0' in lines
    assert 'dtmon_ingest_events_total{kind="worker_heartbeat"} 1.0' in lines
    assert "dtmon_ingest_batches_rejected_total 1.0" in lines


def test_openapi_lists_the_routes(client):
    assert client.get("/api/schema/openapi.json").status_code == 401
    schema = client.get("/api/schema/openapi.json", headers=bearer(client.ingest_token)).json()
    assert {"/api/ingest", "/api/monitoring/cluster", "/api/monitoring/workers"} <= set(schema["paths"])
