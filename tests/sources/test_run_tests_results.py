"""run-tests with a backend: reruns recorded per attempt, drained workers skipped, quarantine forgiven."""

import subprocess

import httpx
from distributed import Client

from dtmon_reporter.run_results import worker_ids
from support import bearer
from tests.sources.test_run_tests_live import run_tests

SUITE = __import__("pathlib").Path(__file__).with_name("rerun_cases")
PYTEST_ARGS = f"-o python_files=outcome_*.py --confcutdir {SUITE} -p no:faker"
ALWAYS = "tests/sources/rerun_cases/outcome_rerun.py::test_always_fails"
ONCE = "tests/sources/rerun_cases/outcome_rerun.py::test_fails_once"


def test_reruns_drain_and_quarantine(live_backend, cluster, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DTMON_RERUN_MARKER", str(tmp_path / "marker"))
    admin = bearer(live_backend.admin_token)
    with Client(cluster.scheduler_address) as dask_client:
        drained, kept = sorted(worker_ids(dask_client).values())
    httpx.put(f"{live_backend.url}/api/workers/{drained}/drain", json={"reason": "bad disk"}, headers=admin).raise_for_status()
    httpx.post(f"{live_backend.url}/api/tests/quarantine", json={"test_id": ALWAYS, "reason": "known bug"},
               headers=admin).raise_for_status()
    code = run_tests(str(SUITE), "--scheduler", cluster.scheduler_address, "--timeout", "60", "--reruns", "2",
                     "--pytest-args", PYTEST_ARGS, "--url", live_backend.url, "--token", live_backend.ingest_token)
    printed = capsys.readouterr().out
    assert code == 0, printed  # the flaky test passed on its rerun, the failing one is quarantined
    assert f"FLAKY {ONCE}: passed on attempt 2" in printed and f"QUARANTINED {ALWAYS} [failed]" in printed
    once = live_backend.get("/api/tests/history", test_id=ONCE).json()
    assert [(r["attempt"], r["outcome"]) for r in once] == [(1, "failed"), (2, "passed")]
    always = live_backend.get("/api/tests/history", test_id=ALWAYS).json()
    assert [r["attempt"] for r in always] == [1, 2, 3] and {r["outcome"] for r in always} == {"failed"}
    assert {r["worker_id"] for r in once + always} == {kept}
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or None
    assert {r["commit"] for r in once} == {head} and once[0]["hardware"] == "cpu"
