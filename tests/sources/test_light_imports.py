"""Worker hosts get httpx and psutil only: the non-Dask sources must import and send without the rest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("litestar", "duckdb", "dask", "distributed", "msgspec", "pandas", "pyarrow")
PROGRAM = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # any import of these now fails
import dtmon_reporter.agent, dtmon_reporter.commands, dtmon_reporter.diffing, dtmon_reporter.hardware, dtmon_reporter.gitinfo
from dtmon_reporter.monitoring import MonitoringSystem
from dtmon_reporter.client import MonitoringClient, _encode
assert _encode({{"events": [{{"kind": "worker_offline"}}]}}) == b'{{"events":[{{"kind":"worker_offline"}}]}}'
print("light imports ok")
"""


def test_sources_need_only_httpx_and_psutil():
    done = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "light imports ok" in done.stdout
