"""Hardware detection shared by the agent, the Dask worker preload and the SDK.

Every probe is optional and time-boxed: a missing library or tool means "not present",
a hanging driver means "not present, timed out", and nothing here raises.
"""

from __future__ import annotations

import functools
import platform
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import psutil

from dtmon_reporter import hardware_accel, hardware_browser, hardware_gpu

HARDWARE_TYPES = ("cpu", "cuda", "rocm", "mps", "openvino", "qnn", "webgpu", "webnn")


@dataclass(frozen=True)
class ProbeResult:
    """What one probe found: whether the hardware type is usable and its devices."""

    name: str
    available: bool
    devices: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""


@dataclass(frozen=True)
class HardwareReport:
    """All probe results; `hardware` and `gpus` are the shapes the ingest API expects."""

    results: list[ProbeResult]

    @property
    def hardware(self) -> list[str]:
        return [r.name for r in self.results if r.available]

    @property
    def gpus(self) -> list[dict[str, Any]]:
        return [d for r in self.results if r.name in ("cuda", "rocm") and r.available for d in r.devices]

    def capabilities(self) -> dict[str, Any]:
        """Per-probe detail for the worker's capabilities object, including why a probe said no."""
        return {r.name: {"available": r.available, "devices": r.devices, "detail": r.detail}
                for r in self.results}


Probe = Callable[[], ProbeResult]


def probe_cpu() -> ProbeResult:
    """The CPU is always present; report model and core counts so workers can be compared."""
    device = {"model": _cpu_model(), "logical_cores": psutil.cpu_count(logical=True),
              "physical_cores": psutil.cpu_count(logical=False),
              "memory_total_gb": round(psutil.virtual_memory().total / 2**30, 2)}
    return ProbeResult("cpu", True, [device], platform.machine())


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def default_probes(include_browser: bool = True) -> dict[str, Probe]:
    """The probe per hardware type, in vocabulary order."""
    probes: dict[str, Probe] = {
        "cpu": probe_cpu, "cuda": hardware_gpu.probe_cuda, "rocm": hardware_gpu.probe_rocm,
        "mps": hardware_accel.probe_mps, "openvino": hardware_accel.probe_openvino,
        "qnn": hardware_accel.probe_qnn,
    }
    if include_browser:
        probes["webgpu"] = lambda: hardware_browser.probe_browser().webgpu
        probes["webnn"] = lambda: hardware_browser.probe_browser().webnn
    return probes


def run_probe(name: str, probe: Probe, timeout_s: float) -> ProbeResult:
    """Runs one probe in a daemon thread so a hung driver cannot hang the caller."""
    outcome: list[ProbeResult] = []

    def target() -> None:
        try:
            outcome.append(probe())
        except Exception as exc:  # a broken driver must read as "absent", never crash the host
            outcome.append(ProbeResult(name, False, [], f"probe failed: {type(exc).__name__}: {exc}"))

    thread = threading.Thread(target=target, name=f"dtmon-probe-{name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return outcome[0] if outcome else ProbeResult(name, False, [], f"probe timed out after {timeout_s:g} s")


def detect_hardware(probes: dict[str, Probe] | None = None, timeout_s: float = 20.0) -> HardwareReport:
    """Runs all probes concurrently; each is bounded by timeout_s."""
    chosen = probes if probes is not None else default_probes()
    results: dict[str, ProbeResult] = {}
    threads = [threading.Thread(target=lambda n=n, p=p: results.__setitem__(n, run_probe(n, p, timeout_s)),
                                daemon=True) for n, p in chosen.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout_s + 1)
    missing = {n: ProbeResult(n, False, [], "probe did not finish") for n in chosen if n not in results}
    return HardwareReport([results.get(n) or missing[n] for n in chosen])


@functools.lru_cache(maxsize=2)
def detect_cached(include_browser: bool = True) -> HardwareReport:
    """Hardware does not change while a process runs: probe once per process."""
    return detect_hardware(default_probes(include_browser=include_browser))


def live_gpus(report: HardwareReport) -> list[dict[str, Any]]:
    """Fresh GPU utilisation and memory for a heartbeat, for the GPU kinds the report found."""
    gpus: list[dict[str, Any]] = []
    if "cuda" in report.hardware:
        gpus += run_probe("cuda", hardware_gpu.probe_cuda, 5.0).devices
    if "rocm" in report.hardware:
        gpus += run_probe("rocm", hardware_gpu.probe_rocm, 5.0).devices
    return gpus
