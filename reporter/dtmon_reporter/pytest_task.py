"""What a Dask worker runs for one pytest node id: a fresh interpreter with a hard timeout.

A failing test raises TestFailed and an overrun raises TestTimedOut, so Dask marks the
task erred and the scheduler plugin reports `failed` / `timed_out` with pytest's own text.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

PYTEST_FLAGS = ("-q", "-p", "no:cacheprovider", "--tb=short", "--color=no", "-rN")
SECTION = re.compile(r"^=+ (FAILURES|ERRORS) =+$")
TALLY = re.compile(r"^=*\s*\d+ (failed|passed|error|errors|skipped)\b.* in [\d.]+s")


class TestFailed(Exception):
    """The test ran and did not pass; its repr is pytest's failure text, which is what Dask reports."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __repr__(self) -> str:
        return f"TestFailed: {self.args[0] if self.args else ''}"


class TestTimedOut(TimeoutError):
    """The test exceeded its time limit and was killed; reported as timed_out."""

    __test__ = False

    def __repr__(self) -> str:
        return f"TestTimedOut: {self.args[0] if self.args else ''}"


def pytest_command(node_ids: list[str], extra_args: list[str]) -> list[str]:
    """The same interpreter as the worker, so the suite sees the worker's installed packages."""
    return [sys.executable, "-m", "pytest", *node_ids, *PYTEST_FLAGS, *extra_args]


def failure_text(output: str) -> str:
    """Keeps pytest's FAILURES/ERRORS section: the assertion and where it happened."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if SECTION.match(line)), None)
    if start is None:
        return output.strip()
    body = [line for line in lines[start + 1:] if not TALLY.match(line)]
    return "\n".join(body).strip()


def run_node(node_id: str, cwd: str, timeout_s: float, extra_args: list[str]) -> dict[str, Any]:
    """Runs one node id; returns its outcome when it passed (or skipped), raises otherwise."""
    started = time.monotonic()
    try:
        done = subprocess.run(pytest_command([node_id], extra_args), cwd=cwd, capture_output=True,
                              text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise TestTimedOut(f"{node_id} did not finish within {timeout_s:g} s and was killed") from None
    output = done.stdout + done.stderr
    if done.returncode == 0:
        outcome = "skipped" if " skipped" in output and " passed" not in output else "passed"
        return {"node_id": node_id, "outcome": outcome, "seconds": round(time.monotonic() - started, 3)}
    if done.returncode == 5:
        raise TestFailed(f"{node_id}: pytest collected nothing (was the file moved?)\n{output.strip()}")
    raise TestFailed(failure_text(output) or f"pytest exited with code {done.returncode}")
