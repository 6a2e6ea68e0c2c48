"""POST /api/results/junit: a JUnit report from any runner becomes test results, all or nothing."""

from support import bearer

REPORT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
  <testcase classname="tests.test_ops" name="test_add" time="0.010"/>
  <testcase classname="tests.test_ops" name="test_mul[fp16]" time="0.200">
    <failure message="AssertionError: 0.1 != 0.2">assert 0.1 == 0.2</failure></testcase>
  <testcase classname="tests.test_ops" name="test_io" time="0.002"><error message="OSError: disk"/></testcase>
  <testcase classname="tests.test_ops" name="test_gpu" time="0"><skipped message="no gpu"/></testcase>
</testsuite></testsuites>"""


def upload(client, body, token=None, **params):
    query = {"run_id": "ci-1", "worker_id": "runner-7", "hardware": "cpu", "commit": "abc123", "branch": "main"} | params
    return client.post("/api/results/junit", content=body, params={k: v for k, v in query.items() if v is not None},
                       headers=bearer(token or client.ingest_token) | {"Content-Type": "application/xml"})


def test_each_case_lands_with_its_outcome_and_the_run_fields(client):
    assert upload(client, REPORT).json() == {"accepted": 4}
    rows = {}
    for name in ("test_add", "test_mul[fp16]", "test_io", "test_gpu"):
        found = client.get("/api/tests/history", params={"test_id": f"tests.test_ops::{name}"},
                           headers=bearer(client.user_token)).json()
        rows[name] = found[0]
    assert {name: row["outcome"] for name, row in rows.items()} == {
        "test_add": "passed", "test_mul[fp16]": "failed", "test_io": "error", "test_gpu": "skipped"}
    failed = rows["test_mul[fp16]"]
    assert (failed["commit"], failed["branch"], failed["worker_id"], failed["run_id"]) == ("abc123", "main", "runner-7", "ci-1")
    assert "AssertionError" in failed["error"] and failed["duration_s"] == 0.2


def test_bad_reports_and_roles_are_refused(client):
    assert upload(client, REPORT, token=client.user_token).status_code == 403
    assert upload(client, REPORT, token=client.admin_token).status_code == 200
    assert upload(client, b"<testsuites><testsuite").status_code == 400
    entity = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><testsuites/>'
    assert "DOCTYPE" in upload(client, entity).json()["detail"]
    missing = upload(client, REPORT, hardware=None)
    assert missing.status_code == 400 and "hardware" in missing.text
    bad_time = REPORT.replace(b'time="0.010"', b'time="-1"')
    response = upload(client, bad_time, run_id="ci-2")
    assert response.status_code == 422 and response.json()["extra"] == {"index": 0, "field": "duration_s"}
    assert client.get("/api/tests/history", params={"test_id": "tests.test_ops::test_io"},
                      headers=bearer(client.user_token)).json()[0]["run_id"] == "ci-1"  # nothing of ci-2 landed
