"""pytest plugin behind run-tests (`-p dtmon_reporter.pytest_plugin`): collect, take node ids, stream results.

It writes one JSON line per fact to the file named by DTMON_PYTEST_OUT, flushed at once, so
the process that started pytest can follow a session live and still knows what happened when
pytest crashes or is killed. With DTMON_PYTEST_FEED naming a pipe, the session collects once
and then runs the batches of node ids fed to it, in the order given, until the pipe closes:
one interpreter serves many chunks, as an xdist worker does, and node ids never have to
survive a command line.
"""

from __future__ import annotations

import json
import os
import select
import time
from typing import Any

import pytest

from dtmon_reporter.pytest_task import FEED_VAR, OUT_VAR

IDLE_EXIT_S = 120.0  # a fed session nobody feeds (its run-tests went away) ends by itself


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


class Feed:
    """Runs the batches read from the feed pipe: one JSON file of node ids per line; EOF ends the session."""

    def __init__(self, fd: int, stream: Stream) -> None:
        self.fd, self.stream, self.pending = fd, stream, b""

    def next_batch(self) -> list[str] | None:
        while b"\n" not in self.pending:
            ready, _, _ = select.select([self.fd], [], [], IDLE_EXIT_S)
            chunk = os.read(self.fd, 4096) if ready else b""
            if not chunk:
                return None
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        with open(line.decode(), encoding="utf-8") as handle:
            return json.load(handle)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        """pytest's own loop, over fed batches; the last test of a batch tears everything down."""
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            raise session.Interrupted(f"{session.testsfailed} errors during collection")
        items = {item.nodeid: item for item in session.items}
        while (batch := self.next_batch()) is not None:
            for node_id in (node_id for node_id in batch if node_id not in items):
                self.stream.write(missing=node_id)
            found = [items[node_id] for node_id in batch if node_id in items]
            for index, item in enumerate(found):
                item.config.hook.pytest_runtest_protocol(item=item, nextitem=(found[index + 1:] or [None])[0])
                if session.shouldfail or session.shouldstop:
                    raise session.Interrupted(session.shouldfail or session.shouldstop)
            self.stream.write(idle=len(batch))
        return True


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""


def pytest_configure(config: pytest.Config) -> None:
    """Registers the stream (and the feed); the variables are not passed on to what the tests start."""
    path, feed = os.environ.pop(OUT_VAR, None), os.environ.pop(FEED_VAR, None)
    if path:
        stream = Stream(path)
        config.pluginmanager.register(stream, "dtmon-stream")
        if feed and not config.option.collectonly:
            config.pluginmanager.register(Feed(int(feed), stream), "dtmon-feed")
