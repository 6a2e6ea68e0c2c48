"""Benchmark change detection scored against the simulator's injected steps, beside what is reachable at all.

SIMULATED DATA: the series come from bench/results_sim.py with known truth (which series step, where).
"""

from __future__ import annotations

import numpy as np

from storage import benchmarks

# The detector as shipped, without its recent-runs check, with a laxer one, and the previous default.
METHODS = {"default": benchmarks.ChangeMethod(),
           "no recent-runs check (DTMON_BENCHMARK_TAIL_RUNS=0)": benchmarks.ChangeMethod(tail_runs=0),
           "DTMON_BENCHMARK_TAIL_ALPHA=0.01": benchmarks.ChangeMethod(tail_alpha=0.01),
           "before: PELT penalty 6, no pruning, tail 0.001": benchmarks.ChangeMethod(penalty=6.0, alpha=1.0,
                                                                                      tail_alpha=0.001)}
KEYS = ("steps_found", "delay_le_5", "flat_false", "misplaced", "flat_ever", "early")
ROWS = [("injected 5-10 % steps found (at -3..+5 runs of the step, full series)", "steps_found", "steps"),
        ("steps reported by the time 5 runs after them had arrived", "delay_le_5", "steps"),
        ("change points on flat series at their full length", "flat_false", None),
        ("flat series that showed a change at some length from 10 runs on", "flat_ever", "flat"),
        ("stepped series that showed a change before their step", "early", "steps"),
        ("change points on stepped series away from the step", "misplaced", None)]


def score(series: list[dict], truth, method: benchmarks.ChangeMethod) -> dict[str, int]:
    """Each step: found where (index within [-3, +5] of it), and whether a detector fed the series as it
    grew reported it by the time 5 runs after it had arrived; flat series: any change is false, at the
    full length and at any length from 10 runs on (what a live alert would have fired on)."""
    out = dict.fromkeys(KEYS, 0)
    for entry in series:
        at = truth.steps.get((entry["benchmark"], entry["hardware"]))
        found = [c["index"] for c in benchmarks.changes_of(entry, method)]
        if at is None:
            out["flat_false"] += len(found)
            out["flat_ever"] += any(_changes(entry, n, method) for n in range(10, len(entry["points"])))
            continue
        near = [i for i in found if -3 <= i - at <= 5]
        out["steps_found"] += bool(near)
        out["misplaced"] += len(found) - len(near)
        out["delay_le_5"] += any(-3 <= i - at < k for k in range(1, 6) for i in _changes(entry, at + k, method))
        out["early"] += any(_changes(entry, n, method) for n in range(10, at))
    return out


def _changes(entry: dict, runs: int, method: benchmarks.ChangeMethod) -> list[int]:
    """Change indexes reported when only the first `runs` runs had arrived."""
    return [c["index"] for c in benchmarks.changes_of(entry | {"points": entry["points"][:runs]}, method)]


def oracle(series: list[dict], truth) -> dict[str, list[float]]:
    """What no live detector can beat: told where each step is, with the levels and the noise measured over
    the whole series. Per step, the largest |z| of the mean of its first 1-5 runs after it against the level
    before, and whether the likeliest step position (levels known) falls outside -3..+5 of it; per flat
    series, the largest |z| noise reaches in the newest 1-5 runs at any length."""
    out: dict[str, list[float]] = {"steps": [], "misplaced": [], "flat": []}
    for entry in series:
        values = np.array([p["value"] for p in entry["points"]])
        at = truth.steps.get((entry["benchmark"], entry["hardware"]))
        if at is None:
            level, noise = values.mean(), values.std()
            out["flat"].append(max(_z(values[n - k:n], level, noise) for n in range(13, len(values) + 1)
                                   for k in range(1, 6)))
            continue
        before, after = values[:at].mean(), values[at:].mean()
        noise = np.sqrt((((values[:at] - before) ** 2).sum() + ((values[at:] - after) ** 2).sum()) / len(values))
        out["steps"].append(max(_z(values[at:at + k], before, noise) for k in range(1, 6)))
        cost = [((values[:t] - before) ** 2).sum() + ((values[t:] - after) ** 2).sum() for t in range(3, len(values) - 2)]
        out["misplaced"].append(not -3 <= 3 + int(np.argmin(cost)) - at <= 5)
    return out


def _z(newest: np.ndarray, level: float, noise: float) -> float:
    return abs(newest.mean() - level) / (noise / np.sqrt(len(newest)))


def table(runs: list[dict], totals: dict[str, int]) -> list[str]:
    """The markdown rows per detector setting, then the bound."""
    per = {name: {key: sum(run["methods"][name][key] for run in runs) for key in KEYS} for name in METHODS}
    lines = ["| what | " + " | ".join(METHODS) + " |", "|---|" + "---|" * len(METHODS)]
    for label, key, of in ROWS:
        lines.append(f"| {label} | " + " | ".join(
            f"{per[name][key]}" + (f" of {totals[of]}" if of else "") for name in METHODS) + " |")
    step_z = [z for run in runs for z in run["oracle"]["steps"]]
    noise_z = max(z for run in runs for z in run["oracle"]["flat"])
    misplaced = sum(m for run in runs for m in run["oracle"]["misplaced"])
    return lines + ["", f"What is reachable at all, for a detector told where each step is and given the levels and "
                    f"noise measured over the whole series (no live detector has either): noise alone reaches "
                    f"|z| = {noise_z:.2f} on some flat series at some length (newest 1-5 runs against the level); "
                    f"{sum(z > noise_z for z in step_z)} of {len(step_z)} steps exceed that within 5 runs after "
                    f"the step; the likeliest position of {misplaced} of them falls outside -3..+5 runs of the step "
                    f"even at full length."]
