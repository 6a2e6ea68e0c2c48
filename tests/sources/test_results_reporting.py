"""Results from worker hosts: `upload-junit` posts a report (parsed server-side), the SDK sends both kinds."""

import subprocess
import sys


REPORT = """<?xml version="1.0"?>
<testsuite name="ci" tests="2"><testcase classname="t.test_x" name="test_ok" time="0.1"/>
<testcase classname="t.test_x" name="test_bad" time="0.2"><failure message="boom">trace</failure></testcase>
</testsuite>"""


def run_cli(args, cwd, env_token, url):
    env = {"DTMON_URL": url, "DTMON_TOKEN": env_token, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "dtmon_reporter", "upload-junit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_upload_with_git_commit_and_refusals(live_backend, tmp_path):
    subprocess.run(["git", "init", "-q", "-b", "feature"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"],
                   cwd=tmp_path, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    (tmp_path / "report.xml").write_text(REPORT)
    done = run_cli(["report.xml", "--run-id", "ci-9", "--hardware", "ROCm", "--worker-id", "runner-1"], tmp_path,
                   live_backend.ingest_token, live_backend.url)
    assert done.returncode == 0 and "uploaded 2 test results" in done.stdout, done.stderr
    rows = live_backend.get("/api/tests/history", test_id="t.test_x::test_bad").json()
    assert [(r["outcome"], r["hardware"], r["commit"], r["branch"]) for r in rows] == [("failed", "rocm", commit, "feature")]
    refused = run_cli(["report.xml", "--run-id", "ci-9", "--hardware", "cpu"], tmp_path, live_backend.user_token,
                      live_backend.url)
    assert refused.returncode == 1 and "403" in refused.stdout
    missing = run_cli(["nope.xml", "--run-id", "r", "--hardware", "cpu"], tmp_path, live_backend.ingest_token,
                      live_backend.url)
    assert missing.returncode == 2 and "report: cannot read nope.xml" in missing.stdout


def test_sdk_sends_both_kinds(live_backend):
    from dtmon_reporter.client import MonitoringClient

    client = MonitoringClient(live_backend.url, live_backend.ingest_token, linger_s=0.01)
    client.test_result("run-1", "tests/test_a.py::test_x", "failed", "gpu-01", "cuda", duration_s=1.5,
                       commit="abc", branch="main", attempt=1, error="E assert 1 == 2")
    client.test_result("run-1", "tests/test_a.py::test_x", "passed", "gpu-01", "cuda", duration_s=1.4, attempt=2)
    client.benchmark_result("run-1", "matmul_fp16", 12.5, "ms", "gpu-01", "cuda", commit="abc")
    assert client.close(10) and client.rejected == 0
    rows = live_backend.get("/api/tests/history", test_id="tests/test_a.py::test_x").json()
    assert [(r["attempt"], r["outcome"]) for r in rows] == [(1, "failed"), (2, "passed")]
    series = live_backend.get("/api/benchmarks/", benchmark="matmul_fp16").json()
    assert series[0]["points"][0]["value"] == 12.5 and series[0]["unit"] == "ms"


def test_readme_results_recipe_runs_as_written(live_backend, monkeypatch):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    recipe = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "benchmark_result(" in b)
    monkeypatch.setenv("DTMON_URL", live_backend.url)
    monkeypatch.setenv("DTMON_TOKEN", live_backend.ingest_token)
    exec(recipe, {})
    rows = live_backend.get("/api/tests/history", test_id="tests/test_ops.py::test_matmul[fp16]").json()
    assert [(r["attempt"], r["outcome"]) for r in rows] == [(1, "failed"), (2, "passed")]
