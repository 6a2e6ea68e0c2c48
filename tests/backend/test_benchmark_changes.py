"""Benchmark change points: the recent-runs check, and triage that follows a change as it moves."""

import asyncio

import numpy as np

from backend import analytics
from storage import benchmarks
from support import bearer

PELT_ONLY = benchmarks.ChangeMethod(tail_runs=0)


def noisy(seed: int, runs: int = 60, step_at: int = 30, step: float = 0.0) -> np.ndarray:
    """10 ms with 2 % Gaussian noise, `step` (a fraction) higher from run `step_at` on."""
    values = 10 * (1 + 0.02 * np.random.default_rng(seed).standard_normal(runs))
    values[step_at:] *= 1 + step
    return values


def test_a_five_percent_step_shows_five_runs_after_it_and_noise_never_does():
    stepped = noisy(4, step=0.05)
    assert benchmarks.change_points(stepped[:35], PELT_ONLY) == []  # the search alone still waits for more runs
    assert benchmarks.change_points(stepped[:35], benchmarks.ChangeMethod()) == [30]
    assert benchmarks.change_points(stepped, benchmarks.ChangeMethod()) == [30]
    flat = noisy(101)
    assert [n for n in range(10, 61) if benchmarks.change_points(flat[:n], benchmarks.ChangeMethod())] == []


def test_a_change_point_that_is_not_significant_is_dropped():
    values = noisy(7, runs=40, step_at=20, step=0.08)
    assert benchmarks.significant(values, [10, 20, 30], alpha=1e-5) == [20]
    assert benchmarks.significant(np.r_[np.ones(5), 2 * np.ones(5)], [5], alpha=1e-5) == [5]  # no spread: p = 0
    assert benchmarks.significant(np.ones(10), [5], alpha=1e-5) == []  # no spread, no difference: p undefined


def send_runs(client, values, runs: range) -> None:
    events = [{"kind": "benchmark_result", "ts": 1.7e9 + 600 * i, "run_id": f"r{i:03d}", "benchmark": "matmul",
               "value": float(values[i]), "unit": "ms", "worker_id": "gpu-1", "hardware": "cuda"} for i in runs]
    response = client.post("/api/ingest", json={"events": events}, headers=bearer(client.ingest_token))
    assert response.status_code == 200


def changes(client) -> list[dict]:
    return client.get("/api/benchmarks/changes", headers=bearer(client.user_token)).json()


def triage(client, run: str, state: str):
    body = {"benchmark": "matmul", "hardware": "CUDA", "change_run": run, "state": state}
    return client.put("/api/benchmarks/changes/triage", json=body, headers=bearer(client.admin_token))


def test_triage_stays_with_its_change_when_the_change_point_moves(client):
    values = noisy(35, step=0.07)
    send_runs(client, values, range(35))
    [first] = changes(client)
    assert (first["change_run"], first["direction"], first["state"]) == ("r029", "worse", "untriaged")
    assert triage(client, "r029", "expected").json()["change_run"] == "r029"

    send_runs(client, values, range(35, 60))  # with more runs after it, the change point moves a run later
    [moved] = changes(client)
    assert (moved["change_run"], moved["state"], moved["triaged_run"]) == ("r030", "expected", "r029")
    observe = analytics.observers(client.app.state.settings)["benchmark_regression"]
    assert client.app.state.store.read_sync(lambda cur: observe(cur, {})) == {}  # expected: no regression alert

    missing = triage(client, "r010", "regression")
    assert missing.status_code == 404 and "change_run" in missing.json()["detail"]
    assert triage(client, "r029", "regression").json()["change_run"] == "r030"  # the change it now starts at
    assert list(client.app.state.store.read_sync(lambda cur: observe(cur, {}))) == ["benchmark:matmul@cuda#r030"]
    [again] = changes(client)
    assert (again["state"], again["triaged_run"]) == ("regression", "r030")  # the mark on r029 was replaced
    marks = client.app.state.store.read_sync(lambda cur: cur.execute(
        "SELECT change_run, state, direction FROM benchmark_triage").fetchall())
    assert marks == [("r030", "regression", "worse")]


def test_an_untriaged_regression_keeps_its_alert_when_the_change_point_moves(client):
    from backend.alerts import AlertEvaluator

    values = noisy(35, step=0.07)
    evaluator = AlertEvaluator(client.app.state.store, observers=analytics.observers(client.app.state.settings))
    send_runs(client, values, range(35))
    fired = [(t.kind, t.scope) for t in asyncio.run(evaluator.tick()) if t.rule["metric"] == "benchmark_regression"]
    assert fired == [("fire", "benchmark:matmul@cuda#r029")]

    send_runs(client, values, range(35, 60))
    assert changes(client)[0]["change_run"] == "r030"  # moved a run later; the same regression
    assert [t for t in asyncio.run(evaluator.tick()) if t.rule["metric"] == "benchmark_regression"
            and t.kind in ("fire", "resolve")] == []
    assert triage(client, "r030", "regression").json()["change_run"] == "r030"
    assert [t for t in asyncio.run(evaluator.tick()) if t.rule["metric"] == "benchmark_regression"
            and t.kind in ("fire", "resolve")] == []
