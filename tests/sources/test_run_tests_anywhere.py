"""run-tests on a project elsewhere with its own pytest.ini and conftest.py; tests that hang, crash or vanish;
one pytest session per worker serving a run's chunks."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

from distributed import Client

from dtmon_reporter import commands, run_tests
from dtmon_reporter.dask_plugin import DtmonSchedulerPlugin
from dtmon_reporter.pytest_task import close_sessions, run_chunk

PROJECT = {
    "pytest.ini": "[pytest]\npython_files = check_*.py\n",
    "conftest.py": "import pytest\n\n@pytest.fixture\ndef answer():\n    return 42\n",
    "suite/check_math.py": """
        import os
        from pathlib import Path

        def test_uses_the_projects_fixture(answer):
            assert answer == 42

        def test_runs_in_the_rootdir():
            assert Path(os.getcwd()) == Path(__file__).parents[1]
    """,
    "suite/check_broken.py": "import a_module_nobody_installed\n",
    "suite/check_edges.py": """
        import os, time

        def test_passes():
            pass

        def test_hangs():
            time.sleep(60)

        def test_kills_its_interpreter():
            os._exit(3)

        def test_after_the_crash():
            pass
    """,
    "suite/check_pids.py": """
        import os
        from pathlib import Path

        def record_pid():
            with open(Path(__file__).with_name("pids.txt"), "a") as pids:
                pids.write(f"{os.getpid()}\\n")

        def test_one():
            record_pid()

        def test_two():
            record_pid()
    """,
}
ARGS = ["-p", "no:faker"]


def make_project(root: Path) -> Path:
    for name, text in PROJECT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_absolute_path_from_another_directory(tmp_path, monkeypatch, cluster, capsys):
    project = make_project(tmp_path / "project")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    code = commands.main(["run-tests", str(project / "suite" / "check_math.py"), str(project / "suite" / "check_broken.py"),
                          "--scheduler", cluster.scheduler_address, "--pytest-args", "-p no:faker"])
    printed = capsys.readouterr().out
    assert code == 2, printed
    assert "ERROR suite/check_broken.py [error]" in printed and "FAILED" not in printed
    assert printed.strip().splitlines()[-1].split(": ", 1)[1].startswith("2 passed, 1 error in ")


def test_relative_path_inside_the_project(tmp_path, monkeypatch, cluster, capsys):
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project / "suite")
    code = commands.main(["run-tests", "check_math.py", "--scheduler", cluster.scheduler_address, "--isolate",
                          "--pytest-args", "-p no:faker"])
    assert code == 0 and "2 passed in " in capsys.readouterr().out


def test_a_hang_or_a_crash_ends_only_that_test(tmp_path):
    project = make_project(tmp_path / "project")
    ids = [f"suite/check_edges.py::{name}" for name in ("test_passes", "test_hangs", "test_kills_its_interpreter",
                                                        "test_after_the_crash", "test_moved_away")]
    facts = []
    results = run_chunk(ids, str(project), 3, ARGS, "edges", facts.append, suite_files=["suite/check_edges.py"])
    assert [r["outcome"] for r in results] == ["passed", "timed_out", "failed", "passed", "error"]
    assert "did not finish within 3 s" in results[1]["error"] and "exit code 3" in results[2]["error"]
    assert "ran no test" in results[4]["error"]
    assert [f["node_id"] for f in facts if f["op"] == "test-finished"] == ids
    assert asyncio.run(close_sessions("edges")) == 1  # the third session, started after the crash, was kept


def test_chunks_of_a_run_share_one_session_until_the_run_ends(tmp_path):
    project = make_project(tmp_path / "project")
    one, two = "suite/check_pids.py::test_one", "suite/check_pids.py::test_two"
    kept = {"report": lambda fact: None, "suite_files": ["suite/check_pids.py"]}
    outcomes = [run_chunk([node_id], str(project), 5, ARGS, "pids", **kept)[0]["outcome"] for node_id in (one, two)]
    assert asyncio.run(close_sessions("pids")) == 1
    outcomes += [run_chunk([two], str(project), 5, ARGS, "isolated", lambda fact: None)[0]["outcome"]]
    assert outcomes == ["passed"] * 3
    first, second, isolated = (project / "suite" / "pids.txt").read_text().split()
    assert first == second != isolated
    assert asyncio.run(close_sessions("isolated")) == 0


def test_canceled_chunks_end_their_tests_on_the_dashboard(tmp_path, cluster, live_backend, helpers):
    project = make_project(tmp_path / "project")
    options = run_tests.RunOptions(paths=["suite/check_edges.py"], cwd=str(project), timeout_s=5, chunk_size=3,
                                   pytest_args=["-p", "no:faker", "-k", "not kills"])
    with Client(cluster) as client:
        client.register_plugin(DtmonSchedulerPlugin(live_backend.url, live_backend.ingest_token, linger_s=0.05),
                               name=DtmonSchedulerPlugin.name)
        futures = run_tests.submit_chunks(client, run_tests.collect(options), options, "cancel-me")
        tasks = lambda: {r["id"].split("::")[1]: r["status"] for r in  # noqa: E731
                         live_backend.get("/api/monitoring/tasks", search="cancel-me", limit=10).json()}
        helpers.eventually(lambda: tasks().get("test_hangs@cancel-me") == "running")
        client.cancel(list(futures))
    final = helpers.eventually(lambda: (t := tasks()) and "pending" not in t.values() and "running" not in t.values()
                               and t)
    assert final == {"test_passes@cancel-me": "completed", "test_hangs@cancel-me": "canceled",
                     "test_after_the_crash@cancel-me": "canceled"}
