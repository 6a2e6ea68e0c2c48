"""POST /api/sql through the real app: results, every refusal, the admin-only rule."""

import pytest

from support import bearer


def ask(client, sql, token=None, limit=1000):
    return client.post("/api/sql", json={"sql": sql, "limit": limit}, headers=bearer(token or client.admin_token))


def seed_workers(client):
    events = [{"kind": "worker_heartbeat", "worker_id": f"w{i}", "cpu_percent": 10.0 * i,
               "memory_used_gb": 1.0, "memory_total_gb": 4.0} for i in range(1, 4)]
    response = client.post("/api/ingest", json={"events": events}, headers=bearer(client.ingest_token))
    assert response.status_code in (200, 201, 202), response.text


def test_select_answers_columns_rows_and_elapsed(client):
    seed_workers(client)
    response = ask(client, "SELECT worker_id, cpu_percent FROM workers ORDER BY worker_id")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == ["worker_id", "cpu_percent"]
    assert body["rows"] == [["w1", 10.0], ["w2", 20.0], ["w3", 30.0]]
    assert body["truncated"] is False and body["elapsed_ms"] >= 0


def test_row_limit_reports_truncation(client):
    body = ask(client, "SELECT * FROM range(100)", limit=10).json()
    assert len(body["rows"]) == 10 and body["truncated"] is True


@pytest.mark.parametrize("sql", [
    "SELECT 1; SELECT 2",
    "INSERT INTO workers (worker_id) VALUES ('x')",
    "UPDATE workers SET cpu_percent = 0",
    "DELETE FROM workers",
    "CREATE TABLE x (a INT)",
    "DROP TABLE workers",
    "COPY workers TO '/tmp/out.csv'",
    "ATTACH '/tmp/other.duckdb'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA version",
    "SET threads = 1",
    "SELECT * FROM api_tokens",
])
def test_rejected(client, sql):
    response = ask(client, sql)
    assert response.status_code == 400
    assert response.json()["extra"]["reason"] == "rejected"


@pytest.mark.parametrize("function", ["read_csv", "read_parquet", "glob"])
def test_local_files_refused(client, tmp_path, function):
    target = tmp_path / "secret.csv"
    target.write_text("a\n1\n")
    response = ask(client, f"SELECT * FROM {function}('{target}')")
    assert response.status_code == 400
    assert response.json()["extra"]["reason"] == "rejected" and function in response.json()["detail"]


@pytest.mark.parametrize("sql", [
    "SELECT * FROM histogram(users, password_hash)",
    "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT * FROM api_tokens'))",
    "SELECT * FROM query('SELECT token_hash FROM api_tokens')",
    "SELECT current_setting('memory_limit')",
    "SELECT * FROM enable_logging()",
])
def test_credentials_and_settings_are_out_of_reach(client, sql):
    response = ask(client, sql)
    assert response.status_code == 400 and response.json()["extra"]["reason"] == "rejected", response.text
    assert "$argon2" not in response.text


def test_result_is_capped_in_bytes(client):
    client.app.state.settings = client.app.state.settings.replace(sql_max_bytes=100_000)
    body = ask(client, "SELECT repeat('x', 30000) AS wide FROM range(50)").json()
    assert body["truncated_by"] == "bytes" and body["max_bytes"] == 100_000 and body["row_count"] == 3


def test_long_query_interrupted(client):
    client.app.state.settings = client.app.state.settings.replace(sql_timeout=0.5)
    response = ask(client, "SELECT count(*) FROM range(1000000000000) a, range(10) b")
    assert response.status_code == 400
    assert response.json()["extra"]["reason"] == "timeout"


def test_bad_sql_returns_the_error(client):
    response = ask(client, "SELECT nope FROM workers")
    assert response.status_code == 400
    assert "nope" in response.json()["detail"]


def test_user_without_admin_role_is_refused(client):
    assert ask(client, "SELECT 1", token=client.user_token).status_code == 403
    assert client.post("/api/sql", json={"sql": "SELECT 1"}).status_code == 401


def test_schema_lists_tables_with_meanings(client):
    body = client.get("/api/sql/schema", headers=bearer(client.user_token)).json()
    tables = {table["table"]: table for table in body["tables"]}
    assert {"workers", "tasks", "worker_samples", "worker_samples_hour", "alerts"} <= set(tables)
    assert "users" not in tables and "api_tokens" not in tables
    cpu = next(column for column in tables["workers"]["columns"] if column["name"] == "cpu_percent")
    assert cpu["meaning"] and cpu["type"] == "DOUBLE"
    for example in body["examples"]:
        assert ask(client, example["sql"]).status_code == 200, example["title"]
