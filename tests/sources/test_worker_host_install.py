"""A worker host as the README sets it up: the reporter wheel alone in a fresh environment, used from elsewhere.

Builds dtmon-reporter, installs it with its Dask and pytest extras (versions from requirements.lock)
into a new virtual environment without the server's packages, then from a directory outside the
checkout runs the host agent, the README's `dask scheduler` / `dask worker` preload lines and
`dtmon-reporter run-tests` against a real backend.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support import launch, scheduler_address

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SUITE = """
    import pytest

    def test_adds():
        assert 1 + 1 == 2

    @pytest.mark.parametrize("word", ["dask", "pytest"])
    def test_lower(word):
        assert word.lower() == word

    def test_divides_badly():
        assert 7 // 2 == 3.5

    def test_not_here():
        pytest.skip("needs a GPU")
"""


def readme_preloads() -> tuple[str, str]:
    scheduler = re.search(r"^dask scheduler --preload (\S+)", README, re.M).group(1)
    worker = re.search(r"^dask worker \S+ --preload (\S+)", README, re.M).group(1)
    return scheduler, worker


def run(command: list[str], **options) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, **options)


@pytest.fixture(scope="module")
def worker_host(tmp_path_factory) -> Path:
    """The bin/ directory of a fresh environment holding only dtmon-reporter[dask,pytest] and its dependencies."""
    root = tmp_path_factory.mktemp("worker-host")
    source = shutil.copytree(ROOT / "reporter", root / "reporter", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(source)])
    assert built.returncode == 0, built.stderr
    wheel = next((root / "dist").glob("dtmon_reporter-*.whl"))
    locked = [line.split(" ")[0] for line in (ROOT / "requirements.lock").read_text().splitlines()
              if re.match(r"^[A-Za-z0-9_.-]+==", line)]
    (root / "constraints.txt").write_text("\n".join(locked) + "\n")
    assert run([sys.executable, "-m", "venv", str(root / "env")]).returncode == 0
    installed = run([str(root / "env/bin/pip"), "install", "-q", "--disable-pip-version-check",
                     "-c", str(root / "constraints.txt"), f"{wheel}[dask,pytest]"])
    assert installed.returncode == 0, installed.stderr
    return root / "env/bin"


def test_no_server_packages_on_the_worker_host(worker_host):
    for module in ("duckdb", "streamlit", "litestar", "pandas", "pyarrow", "backend"):
        assert run([str(worker_host / "python"), "-c", f"import {module}"], cwd=worker_host).returncode != 0, module


def test_agent_dask_preloads_and_run_tests_from_outside_the_checkout(worker_host, live_backend, tmp_path, helpers):
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_known.py").write_text(textwrap.dedent(SUITE))
    env = {**os.environ, "DTMON_URL": live_backend.url, "DTMON_TOKEN": live_backend.ingest_token,
           "PATH": f"{worker_host}:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    scheduler_module, worker_module = readme_preloads()
    started = [launch(["dtmon-reporter", "agent", "--worker-id", "host-agent", "--interval", "0.5",
                       "--no-browser-probe"], env, tmp_path)]
    try:
        started.append(launch(["dask", "scheduler", "--preload", scheduler_module, "--scheduler-file",
                               str(tmp_path / "scheduler.json"), "--port", "0", "--no-dashboard"], env, tmp_path))
        address = scheduler_address(tmp_path / "scheduler.json", started[-1])
        started.append(launch(["dask", "worker", address, "--preload", worker_module, "--no-dtmon-browser-probe",
                               "--name", "host-worker", "--nthreads", "1", "--no-dashboard"], env, tmp_path))
        done = run(["dtmon-reporter", "run-tests", str(tmp_path / "suite"), "--scheduler", address,
                    "--timeout", "60"], cwd=tmp_path, env=env)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stdout.strip().splitlines()[-1].split(": ", 1)[1].startswith("3 passed, 1 failed, 1 skipped")
        tasks = helpers.eventually(lambda: (rows := live_backend.get("/api/monitoring/tasks", search="test_known",
                                                                      limit=50).json())
                                   and all(r["status"] in ("completed", "failed") for r in rows) and len(rows) == 5
                                   and rows)
        assert {r["worker_id"] for r in tasks} == {"host-worker"}
        assert [r["status"] for r in tasks].count("failed") == 1
        agent = helpers.eventually(lambda: live_backend.get("/api/monitoring/workers/host-agent").json().get("worker"))
        assert agent["hostname"] and "cpu" in agent["hardware"]
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(30)
    helpers.eventually(lambda: live_backend.get("/api/monitoring/workers/host-agent").json()["worker"]["status"]
                       == "stopped")  # SIGTERM: the agent said goodbye
