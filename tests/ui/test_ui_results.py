"""Tests, Benchmarks and the worker's test verdict in AppTest over the simulator's results."""

import httpx
import pytest

from bench.results_sim import HARDWARE, simulate, workers_of
from support import make_settings
from tests.ui.conftest import dashboard
from tests.ui.test_ui_pages import charts, run_page

SIM = simulate(runs=20, tests=12, per_hardware=3, benchmarks=2, bench_runs=40, seed=3)


def table(app, column: str):
    """The first grid on the page with this column (AppTest finds grids by position, not key)."""
    return next(frame.value for frame in app.dataframe if column in frame.value.columns)


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, heartbeat_interval=3600.0, analytics_interval=0.0)


@pytest.fixture
def results_app(live_backend, monkeypatch):
    fleet = [{"kind": "worker_register", "worker_id": worker, "hardware": [hw]}
             for hw in HARDWARE for worker in workers_of(hw, 3)]
    with httpx.Client(base_url=live_backend.url, timeout=60) as http:
        for events in (fleet, SIM.tests, SIM.benchmarks):
            http.post("/api/ingest", json={"events": events},
                      headers={"Authorization": f"Bearer {live_backend.ingest_token}"}).raise_for_status()
    return dashboard(monkeypatch, live_backend.url, live_backend.admin_token, "admin")


def test_tests_page_ranks_flaky_tests_and_quarantines(results_app):
    app = run_page(results_app, "pages/tests.py")
    flaky = table(app, "flips")
    assert {(t, h.lower()) for t, h in zip(flaky["test"], flaky["hardware"])} == SIM.truth.flaky
    assert list(flaky["score"]) == sorted(flaky["score"], reverse=True)
    assert "Outcome matrix (pass rate of the last runs)" in charts(app)
    app.selectbox(key="tests_verdict").select("broken").run()
    assert set(table(app, "flips")["test"]) == SIM.truth.broken
    app.selectbox(key="tests_open").select(sorted(SIM.truth.broken)[0]).run()
    assert {"Outcomes", "Duration (s)"} <= set(charts(app)) and "TypeError" in app.code[0].value
    app.text_input(key="tests_q_test").input("test_000")
    app.text_input(key="tests_q_reason").input("flaky on CPU")
    app.button[0].click().run()  # the form's submit button
    assert not [e for e in app.error if "Not done" in e.value]
    assert table(app, "quarantined_by")["reason"].tolist() == ["flaky on CPU"]


def test_benchmarks_page_marks_changes(results_app):
    app = run_page(results_app, "pages/benchmarks.py")
    changes = table(app, "first run after")
    assert {(b, h.lower()) for b, h in zip(changes["benchmark"], changes["hardware"])} == set(SIM.truth.steps)
    assert len(app.main.get("vega_lite_chart")) == 6  # one chart per series on the first page
    app.selectbox(key="bench_triage_change").select_index(1).run()
    app.selectbox(key="bench_triage_state").select("expected").run()
    app.button(key="bench_triage_set").click().run()
    assert "expected" in table(app, "first run after")["state"].tolist()


def test_worker_detail_shows_suspect_and_drain(results_app):
    app = run_page(results_app, "pages/workers.py")
    app.selectbox(key="workers_open").select(SIM.truth.bad_worker).run()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Suspect"] == "yes" and metrics["Drained"] == "no"
    app.text_input(key="worker_drain_reason").input("memory errors").run()
    app.button(key="worker_drain").click().run()
    app.run()
    assert {m.label: m.value for m in app.metric}["Drained"] == "yes"


def test_empty_tests_page_says_how_to_send_results(live_backend, monkeypatch):
    app = run_page(dashboard(monkeypatch, live_backend.url, live_backend.user_token, "user"), "pages/tests.py")
    assert "No test results yet" in app.info[0].value
