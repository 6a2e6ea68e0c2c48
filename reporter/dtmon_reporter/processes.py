"""Stopping a child process together with the processes it started."""

from __future__ import annotations

import os
import signal
import subprocess


def kill_group(process: subprocess.Popen) -> None:
    """Kills a child started with start_new_session=True and its whole group (a browser's helpers, a hung
    test's own subprocesses); where there are no process groups, the child alone."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):
        process.kill()
