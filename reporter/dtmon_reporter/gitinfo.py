"""The git commit and branch of a checkout, so results say which code they came from."""

from __future__ import annotations

import subprocess


def _git(cwd: str, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None


def revision(cwd: str) -> tuple[str | None, str | None]:
    """(commit, branch) of the checkout holding cwd; None for what is unknown (a detached HEAD has no branch)."""
    commit = _git(cwd, "rev-parse", "HEAD")
    branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD") if commit else None
    return commit, None if branch == "HEAD" else branch
