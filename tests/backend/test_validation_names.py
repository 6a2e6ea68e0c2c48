"""A refused query parameter is named the way the client spelled it, not by its Python alias."""

import pytest

from support import bearer


@pytest.mark.parametrize("path, name", [
    ("/api/monitoring/resources?range=2y", "range"),
    ("/api/monitoring/workers/w1?range=2y", "range"),
    ("/api/history?range=2y", "range"),
    ("/api/alerts?state=asleep", "state"),
    ("/api/monitoring/tasks?priority=high", "priority"),
])
def test_validation_error_names_the_query_parameter(client, path, name):
    response = client.get(path, headers=bearer(client.user_token))
    assert response.status_code == 400
    assert [error["key"] for error in response.json()["extra"]] == [name]


def test_ingest_errors_keep_their_event_index_and_field(client):
    response = client.post("/api/ingest", json={"events": [{"kind": "worker_heartbeat", "worker_id": "w1",
                                                             "cpu_percent": 300}]},
                           headers=bearer(client.ingest_token))
    assert response.status_code == 422
    assert response.json()["extra"] == {"index": 0, "field": "cpu_percent"}
