"""test_result / benchmark_result ingest and the analytics over the simulator's known truth."""

import pytest
from litestar.testing import TestClient

from backend import analytics
from backend.app import create_app
from bench.results_sim import simulate
from storage import quarantine
from storage.alerts import utc_now
from support import attach_tokens, bearer, make_settings

SIM = simulate(runs=30, tests=24, benchmarks=3, bench_runs=50)


def post(client, events, token=None):
    return client.post("/api/ingest", json={"events": events}, headers=bearer(token or client.ingest_token))


def get(client, path, token=None, **params):
    return client.get(path, params=params, headers=bearer(token or client.user_token))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """One server holding the whole simulation (read-only tests share it)."""
    settings = make_settings(tmp_path_factory.mktemp("sim"), analytics_interval=0)
    with TestClient(create_app(settings)) as client:
        attach_tokens(client, client)
        for events in (SIM.tests, SIM.benchmarks):
            for start in range(0, len(events), 5000):
                assert post(client, events[start:start + 5000]).status_code == 200
        yield client


def result(**changes):
    base = {"kind": "test_result", "run_id": "r1", "test_id": "t::a", "outcome": "passed", "worker_id": "w1",
            "hardware": "CUDA", "duration_s": 0.5}
    return base | changes


def test_bad_result_refuses_the_whole_batch_and_names_event_and_field(client):
    bench = {"kind": "benchmark_result", "run_id": "b1", "benchmark": "matmul", "value": 1.5, "unit": "ms",
             "worker_id": "w1", "hardware": "cuda"}
    response = post(client, [result(), bench, result(outcome="flaky")])
    assert response.status_code == 422 and response.json()["extra"] == {"index": 2, "field": "outcome"}
    assert post(client, [result(attempt=0)]).json()["extra"] == {"index": 0, "field": "attempt"}
    assert post(client, [bench | {"value": "fast"}]).json()["extra"]["field"] == "value"
    assert get(client, "/api/tests/history", test_id="t::a").json() == []
    assert post(client, [result(), bench]).json() == {"accepted": 2}
    assert post(client, [result(), bench]).json() == {"accepted": 2}  # a retried batch is not counted twice
    history = get(client, "/api/tests/history", test_id="t::a").json()
    assert [(row["hardware"], row["outcome"], row["attempt"]) for row in history] == [("cuda", "passed", 1)]


def test_first_results_are_scored_at_once_not_an_analytics_interval_later(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, analytics_interval=3600))) as client:
        attach_tokens(client, client)
        assert get(client, "/api/tests/flaky").json() == []
        assert post(client, [result(), result(run_id="r2", outcome="failed")]).status_code == 200
        rows = get(client, "/api/tests/flaky").json()
        assert [(row["test_id"], row["hardware"], row["runs"]) for row in rows] == [("t::a", "cuda", 2)]


def test_every_injected_flaky_test_is_found_on_its_hardware_and_no_stable_one(fleet):
    response = get(fleet, "/api/tests/flaky", limit=1000)
    rows = response.json()
    assert int(response.headers["x-total-count"]) == len(rows) == 24 * 4
    flagged = {(row["test_id"], row["hardware"]) for row in rows if row["flaky"]}
    assert flagged == SIM.truth.flaky
    assert {row["test_id"] for row in rows if row["verdict"] == "broken"} == SIM.truth.broken
    assert rows[0]["flaky"] and rows[0]["score"] >= rows[-1]["score"]
    page = get(fleet, "/api/tests/flaky", verdict="flaky", hardware="cpu", limit=2, offset=1)
    assert int(page.headers["x-total-count"]) == sum(1 for _, hw in SIM.truth.flaky if hw == "cpu")
    assert len(page.json()) == 2


def test_the_bad_worker_is_suspect_and_no_good_one(fleet):
    rows = get(fleet, "/api/tests/suspect-workers").json()
    assert [row["worker_id"] for row in rows] == [SIM.truth.bad_worker]
    assert rows[0]["p_value"] < 1e-6 and rows[0]["failures"] > rows[0]["peer_failures"] / 3
    everyone = get(fleet, "/api/tests/suspect-workers", all="true", limit=1000).json()
    assert len(everyone) == 16 and sum(row["suspect"] for row in everyone) == 1
    assert get(fleet, "/api/tests/suspect-workers", token=fleet.ingest_token).status_code == 403


def test_each_step_is_found_within_five_runs_and_flat_series_have_none(fleet):
    changes = get(fleet, "/api/benchmarks/changes", limit=1000).json()
    found = {(c["benchmark"], c["hardware"]): c for c in changes}
    assert set(found) == set(SIM.truth.steps)
    for key, step_at in SIM.truth.steps.items():
        assert -3 <= found[key]["index"] - step_at <= 5
        assert found[key]["state"] == "untriaged" and abs(found[key]["percent"]) >= 3
    series = get(fleet, "/api/benchmarks/", hardware="cpu").json()
    assert all(len(entry["points"]) == 50 for entry in series)


def test_matrix_failure_groups_and_history(fleet):
    response = get(fleet, "/api/tests/matrix", limit=5)
    assert response.headers["x-total-count"] == "24"
    first = response.json()[0]
    assert first["test_id"] in SIM.truth.broken and set(first["cells"]) == {"cpu", "cuda", "rocm", "mps"}
    groups = get(fleet, "/api/tests/failure-groups", hardware="cuda").json()
    memory = [g for g in groups if g["signature"].startswith("RuntimeError: device error")]
    assert len(memory) == 1 and memory[0]["workers"] == 1  # one signature, whatever the address
    history = get(fleet, "/api/tests/history", test_id="test_000", hardware="cpu").json()
    assert len(history) >= 30 and history[0]["ts"] <= history[-1]["ts"]


def test_alert_observers_see_the_suspect_and_the_regressions(fleet):
    observe = analytics.observers(fleet.app.state.settings)
    store = fleet.app.state.store
    assert store.read_sync(lambda cur: observe["suspect_worker"](cur, {})) == {f"worker:{SIM.truth.bad_worker}": 1.0}
    worse = store.read_sync(lambda cur: observe["benchmark_regression"](cur, {}))
    rules = {rule["metric"] for rule in get(fleet, "/api/alerts/rules").json()}
    assert {"suspect_worker", "benchmark_regression"} <= rules
    if worse:
        scope = next(iter(worse))
        name, rest = scope.removeprefix("benchmark:").split("@")
        hardware, run = rest.split("#")
        body = {"benchmark": name, "hardware": hardware, "change_run": run, "state": "expected"}
        assert fleet.put("/api/benchmarks/changes/triage", json=body, headers=bearer(fleet.user_token)).status_code == 403
        assert fleet.put("/api/benchmarks/changes/triage", json=body, headers=bearer(fleet.admin_token)).status_code == 200
        assert scope not in store.read_sync(lambda cur: observe["benchmark_regression"](cur, {}))


def test_quarantine_drain_and_the_runner_plan(client):
    admin, user = bearer(client.admin_token), bearer(client.user_token)
    body = {"test_id": "t::a", "hardware": "ROCm", "reason": "flaky on MI300"}
    assert client.post("/api/tests/quarantine", json=body, headers=user).status_code == 403
    assert client.post("/api/tests/quarantine", json={"test_id": "t::a"}, headers=admin).status_code == 400
    assert client.post("/api/tests/quarantine", json=body, headers=admin).status_code == 201
    assert client.post("/api/tests/quarantine", json=body, headers=admin).status_code == 409
    assert client.put("/api/workers/rocm-3/drain", json={"reason": "bad HBM"}, headers=admin).status_code == 200
    plan = get(client, "/api/runner/plan", token=client.ingest_token).json()
    assert plan == {"drained": ["rocm-3"], "quarantined": [{"test_id": "t::a", "hardware": "rocm"}]}
    listed = get(client, "/api/tests/quarantine").json()
    assert listed[0]["quarantined_by"] == "admin" and listed[0]["reason"] == "flaky on MI300"
    worker = get(client, "/api/tests/workers/rocm-3").json()
    assert worker["drained"] and worker["drain"]["reason"] == "bad HBM"
    runs = [result(run_id=f"r{i}", hardware="rocm", outcome="failed" if i == 1 else "passed", ts=utc_now().timestamp() + i)
            for i in range(4)]
    assert post(client, runs).status_code == 200
    store = client.app.state.store
    assert store.read_sync(quarantine.clean_streaks) == {("t::a", "rocm"): 2}
    assert store.write_sync(quarantine.auto_release(3, utc_now())) == 0
    assert post(client, [result(run_id="r9", hardware="rocm", ts=utc_now().timestamp() + 9)]).status_code == 200
    assert store.write_sync(quarantine.auto_release(3, utc_now())) == 1
    released = get(client, "/api/tests/quarantine", state="released").json()[0]
    assert released["released_by"] == "auto" and get(client, "/api/tests/quarantine").json() == []
    assert client.delete("/api/workers/rocm-3/drain", headers=admin).status_code == 200
    assert get(client, "/api/runner/plan", token=client.ingest_token).json()["drained"] == []
