"""Each bench script owns one section of docs/PERFORMANCE.md and replaces only that."""

from __future__ import annotations

import re
from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "docs" / "PERFORMANCE.md"
HEADER = ("# Performance\n\nFigures measured by the scripts in `bench/` on this project's 2-core, 24 GiB "
          "machine. Each section says what was run; rerun the script to refresh it. Medians and ratios "
          "come from one run of each script.\n")


def write_section(script: str, body: str) -> None:
    """Replace (or append) the section headed `## <script>`."""
    text = REPORT.read_text() if REPORT.exists() else HEADER
    section = f"## {script}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(script)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    REPORT.write_text(text)
