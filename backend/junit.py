"""JUnit XML from any CI or test runner, turned into test_result events (parsed by junitparser)."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from xml.etree import ElementTree

import msgspec
from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Skipped

# A DTD can declare entities that expand without bound; JUnit files never need one.
DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


class JunitError(ValueError):
    """A body that is not a JUnit report; the message says why."""


def parse(body: bytes) -> JUnitXml:
    """The report, parsed by the standard library's expat (no external entities) then junitparser."""
    if DOCTYPE.search(body[:4096]):
        raise JunitError("body: a DOCTYPE is not allowed in a JUnit report")
    try:
        return JUnitXml.fromroot(ElementTree.fromstring(body))
    except (ElementTree.ParseError, JUnitXmlError) as exc:
        raise JunitError(f"body: not a JUnit XML report ({exc})") from None


def clip(name: str, limit: int = 256) -> str:
    """Long parametrised names stay within the API's limit and stay unique."""
    if len(name) <= limit:
        return name
    return f"{name[: limit - 20]}...{hashlib.sha1(name.encode()).hexdigest()[:16]}"


def _outcome(case: Any) -> tuple[str, str | None]:
    """passed, failed, error or skipped, with the failure's message and text."""
    for result in case.result:
        if isinstance(result, (Error, Failure)):
            text = "\n".join(part for part in (result.message, result.text) if part)
            timed_out = "timeout" in (result.type or "").lower() or "timed out" in (result.message or "").lower()
            kind = "timed_out" if timed_out else "error" if isinstance(result, Error) else "failed"
            return kind, text or None
    return ("skipped" if any(isinstance(r, Skipped) for r in case.result) else "passed"), None


def events(report: JUnitXml, run: dict[str, Any], received: float) -> list[dict[str, Any]]:
    """One test_result per test case; `run` carries run_id, worker_id, hardware, commit, branch."""
    out = []
    for suite in report:
        for case in suite:
            outcome, error = _outcome(case)
            test_id = clip(f"{case.classname}::{case.name}" if case.classname else case.name)
            out.append({"kind": "test_result", "ts": received, "test_id": test_id, "outcome": outcome,
                        "duration_s": case.time, "error": error, "attempt": 1, **run})
    return out


def ingest_body(report: bytes, run: dict[str, Any], received: float) -> bytes:
    """The report as an ingest body, so it takes the same validation and write path as any batch."""
    return msgspec.json.encode({"events": events(parse(report), run, received)})
