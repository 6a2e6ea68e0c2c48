"""A simulator of test and benchmark results with known truth (scripted, seeded; not real data).

Used by the tests and by bench/analytics.py to measure the detectors: flaky tests (some on one
hardware only), broken tests, stable tests, one bad worker that fails tests passing elsewhere, and
benchmark series with 2-3 % noise, some with an injected step of 5-10 %.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

HARDWARE = ("cpu", "cuda", "rocm", "mps")
FLAKY_ERROR = "AssertionError: max abs diff 0.0{n} exceeds tolerance 0.01"
BROKEN_ERROR = "TypeError: unsupported operand type(s) for +: 'Tensor' and 'NoneType'"
BAD_WORKER_ERROR = "RuntimeError: device error: illegal memory access at 0x7f{n:06x}"


@dataclass
class Truth:
    """What was injected: the answers the detectors should find."""

    flaky: set[tuple[str, str]] = field(default_factory=set)  # (test_id, hardware)
    broken: set[str] = field(default_factory=set)
    stable: set[str] = field(default_factory=set)
    bad_worker: str = ""
    steps: dict[tuple[str, str], int] = field(default_factory=dict)  # (benchmark, hardware) -> first run after
    flat: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Simulation:
    tests: list[dict]
    benchmarks: list[dict]
    truth: Truth


def workers_of(hardware: str, per_hardware: int) -> list[str]:
    return [f"{hardware}-{index}" for index in range(per_hardware)]


def simulate(runs: int = 30, tests: int = 40, per_hardware: int = 4, benchmarks: int = 5, bench_runs: int = 60,
             start: float | None = None, seed: int = 7) -> Simulation:
    """Test results of `runs` suite runs on every hardware, and `bench_runs` benchmark runs, ten
    minutes apart and ending now unless `start` is given."""
    rng = random.Random(seed)
    start = time.time() - 600 * max(runs, bench_runs) if start is None else start
    truth = Truth(bad_worker=f"cuda-{per_hardware - 1}")
    flaky_on = {f"test_{i:03d}": ({HARDWARE[i % len(HARDWARE)]} if i < 4 else set(HARDWARE)) for i in range(6)}
    for test, places in flaky_on.items():
        truth.flaky |= {(test, hw) for hw in places}
    truth.broken = {f"test_{i:03d}" for i in range(6, 9)}
    truth.stable = {f"test_{i:03d}" for i in range(9, tests)}
    events = []
    for run in range(runs):
        for hw in HARDWARE:
            for index in range(tests):
                test_id = f"test_{index:03d}"
                worker = rng.choice(workers_of(hw, per_hardware))
                events += _attempts(rng, test_id, hw, worker, run, start, flaky_on, truth)
    return Simulation(events, _benchmarks(rng, benchmarks, bench_runs, start, truth), truth)


def _attempts(rng: random.Random, test_id: str, hw: str, worker: str, run: int, start: float,
              flaky_on: dict[str, set[str]], truth: Truth) -> list[dict]:
    """The first attempt and, when it failed, one rerun on the same worker."""
    out = []
    for attempt in (1, 2):
        error = _failure(rng, test_id, hw, worker, flaky_on, truth)
        out.append({"kind": "test_result", "ts": start + run * 600 + len(out), "run_id": f"run-{run:04d}-{hw}",
                    "test_id": test_id, "outcome": "failed" if error else "passed", "worker_id": worker,
                    "hardware": hw, "commit": f"c{run // 3:04d}", "branch": "main", "attempt": attempt,
                    "duration_s": round(rng.uniform(0.05, 2.0), 3), "error": error})
        if error is None:
            break
    return out


def _failure(rng: random.Random, test_id: str, hw: str, worker: str, flaky_on: dict[str, set[str]],
             truth: Truth) -> str | None:
    if test_id in truth.broken:
        return BROKEN_ERROR
    if hw in flaky_on.get(test_id, ()) and rng.random() < 0.25:
        return FLAKY_ERROR.format(n=rng.randint(11, 99))
    if worker == truth.bad_worker and rng.random() < 0.3:
        return BAD_WORKER_ERROR.format(n=rng.randrange(1 << 24))
    return None


def _benchmarks(rng: random.Random, count: int, runs: int, start: float, truth: Truth) -> list[dict]:
    """Every benchmark on every hardware; every other series gets one step of 5-10 % after run 25."""
    events = []
    for index in range(count):
        for position, hw in enumerate(HARDWARE):
            name, base, noise = f"bench_{index:02d}", rng.uniform(5, 50), rng.uniform(0.02, 0.03)
            step_at, step = None, 0.0
            if (index + position) % 2 == 0:
                step_at, step = rng.randint(25, runs - 15), rng.choice((1, -1)) * rng.uniform(0.05, 0.10)
                truth.steps[(name, hw)] = step_at
            else:
                truth.flat.add((name, hw))
            for run in range(runs):
                level = base * (1 + (step if step_at is not None and run >= step_at else 0.0))
                events.append({"kind": "benchmark_result", "ts": start + run * 600 + 300, "run_id": f"bench-{run:04d}",
                               "benchmark": name, "value": level * (1 + rng.gauss(0, noise)), "unit": "ms",
                               "lower_is_better": True, "worker_id": f"{hw}-0", "hardware": hw,
                               "commit": f"c{run:04d}"})
    return events
