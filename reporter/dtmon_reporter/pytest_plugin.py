"""pytest plugin behind run-tests (`-p dtmon_reporter.pytest_plugin`): collect, select, stream results.

It writes one JSON line per fact to the file named by DTMON_PYTEST_OUT, flushed at once, so
the process that started pytest can follow a session live and still knows what happened when
pytest crashes or is killed. With DTMON_PYTEST_SELECT naming a file of node ids, only those
tests run, in that order: node ids never have to survive a command line.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

OUT_VAR, SELECT_VAR = "DTMON_PYTEST_OUT", "DTMON_PYTEST_SELECT"


class Stream:
    """Registered as a plugin object when DTMON_PYTEST_OUT is set; its methods are pytest hooks."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole session
        self.tests: dict[str, dict[str, Any]] = {}

    def write(self, **fact: Any) -> None:
        self.file.write(json.dumps(fact) + "\n")
        self.file.flush()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.write(uncollectable=report.nodeid or ".", error=report.longreprtext)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.write(rootdir=str(session.config.rootpath), collected=[item.nodeid for item in session.items])

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.write(started=nodeid, at=time.time())

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Folds setup, call and teardown into one outcome: any failure fails the test."""
        test = self.tests.setdefault(report.nodeid, {"outcome": "passed", "seconds": 0.0, "error": ""})
        test["seconds"] += report.duration
        if report.failed:
            test["outcome"] = "failed"
            where = "" if report.when == "call" else f"error in {report.when}:\n"
            test["error"] += where + report.longreprtext + "\n"
        elif report.skipped and test["outcome"] == "passed":
            test["outcome"] = "skipped"
            test["error"] = getattr(report, "wasxfail", "") or _skip_reason(report)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        test = self.tests.pop(nodeid, {"outcome": "passed", "seconds": 0.0, "error": ""})
        self.write(finished=nodeid, outcome=test["outcome"], seconds=round(test["seconds"], 6),
                   error=test["error"].strip())


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(OUT_VAR)
    if path:
        config.pluginmanager.register(Stream(path), "dtmon-stream")


@pytest.hookimpl(trylast=True)  # after any reordering plugin: the run-tests order wins
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keeps the selected node ids, in the order given; the rest are deselected as `-k` would."""
    select = os.environ.get(SELECT_VAR)
    if not select:
        return
    with open(select, encoding="utf-8") as handle:
        order = {line.rstrip("\n"): index for index, line in enumerate(handle) if line.strip()}
    kept = sorted((item for item in items if item.nodeid in order), key=lambda item: order[item.nodeid])
    dropped = [item for item in items if item.nodeid not in order]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept
