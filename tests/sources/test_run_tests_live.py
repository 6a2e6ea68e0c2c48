"""`run-tests` on a suite with known outcomes, on a real LocalCluster reporting to a real backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dtmon_reporter import commands

SUITE = Path(__file__).with_name("known_outcomes")
# files are named outcome_*; confcutdir keeps the project's conftests out; faker's plugin costs ~1 s a process
PYTEST_ARGS = f"-o python_files=outcome_*.py --confcutdir {SUITE} -p no:faker"
TIMEOUT = 20  # generous: the machine is shared, and a pytest start-up can take seconds under load


def run_tests(*argv: str) -> int:
    return commands.main(["run-tests", *argv])


def suite_tasks(backend) -> dict[str, dict]:
    rows = backend.get("/api/monitoring/tasks", search="outcome_cases", limit=100).json()
    return {row["id"].split("::", 1)[1].rsplit("@", 1)[0]: row for row in rows}


def test_known_outcomes_exit_code_summary_and_dashboard(live_backend, cluster, capsys, helpers):
    code = run_tests(str(SUITE), "--scheduler", cluster.scheduler_address, "--timeout", str(TIMEOUT), "--priority", "5",
                     "--pytest-args", PYTEST_ARGS, "--url", live_backend.url, "--token", live_backend.ingest_token)
    printed = capsys.readouterr().out
    assert code == 1
    summary = printed.strip().splitlines()[-1]
    assert "3 passed, 1 failed, 1 timed out, 1 skipped" in summary
    assert "FAILED tests/sources/known_outcomes/outcome_cases.py::test_float_sum_fails [failed]" in printed
    tasks = helpers.eventually(lambda: (t := suite_tasks(live_backend)) and
                               all(r["status"] != "running" and r["status"] != "pending" for r in t.values())
                               and len(t) == 6 and t)
    statuses = {name: row["status"] for name, row in tasks.items()}
    assert statuses == {"test_sorting_passes": "completed", "test_float_sum_fails": "failed",
                        "test_skipped": "completed", "test_sleeps_past_the_timeout": "timed_out",
                        "test_parametrized_passes[1]": "completed", "test_parametrized_passes[2]": "completed"}
    assert "assert (0.1 + 0.2) == 0.3" in tasks["test_float_sum_fails"]["error"]
    assert f"did not finish within {TIMEOUT} s" in tasks["test_sleeps_past_the_timeout"]["error"]
    assert all(row["priority"] == 5 and row["type"] == "test" and row["worker_id"] for row in tasks.values())


def test_all_passing_selection_exits_zero(cluster, capsys):
    code = run_tests(f"{SUITE}/outcome_cases.py::test_sorting_passes", "--scheduler", cluster.scheduler_address,
                     "--pytest-args", PYTEST_ARGS)
    assert code == 0 and "1 passed" in capsys.readouterr().out


def test_missing_hardware_fails_fast(cluster, capsys):
    code = run_tests(str(SUITE), "--scheduler", cluster.scheduler_address, "--hardware", "cuda")
    assert code == 2 and "no connected worker offers cuda" in capsys.readouterr().out


def test_commands_are_wired_into_the_backend_cli():
    done = subprocess.run([sys.executable, "-m", "backend", "--help"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0
    assert all(command in done.stdout for command in ("agent", "run-tests", "demo"))
