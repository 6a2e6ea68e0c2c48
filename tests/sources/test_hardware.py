"""Hardware detection: injected probe results, failure containment, recorded tool output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from dtmon_reporter import hardware, hardware_browser, hardware_gpu
from dtmon_reporter.dask_worker import hardware_resources
from dtmon_reporter.hardware import ProbeResult, detect_hardware

ROCM_SMI_JSON = json.dumps({
    "card0": {"Card series": "AMD Instinct MI210", "VRAM Total Memory (B)": "68702699520",
              "VRAM Total Used Memory (B)": "10737418240", "GPU use (%)": "37"},
    "card1": {"Card series": "AMD Instinct MI210", "VRAM Total Memory (B)": "68702699520",
              "VRAM Total Used Memory (B)": "0", "GPU use (%)": "0"},
    "system": {"Driver version": "6.7.0"}})


def test_injected_probes_shape_the_report():
    gpu = {"name": "NVIDIA A100", "memory_used_gb": 1.0, "memory_total_gb": 40.0, "utilization": 12.0}
    report = detect_hardware({
        "cpu": lambda: ProbeResult("cpu", True, [{"model": "x"}]),
        "cuda": lambda: ProbeResult("cuda", True, [gpu, gpu]),
        "webgpu": lambda: ProbeResult("webgpu", False, [], "no adapter")})
    assert report.hardware == ["cpu", "cuda"]
    assert report.gpus == [gpu, gpu]
    assert report.capabilities()["webgpu"] == {"available": False, "devices": [], "detail": "no adapter"}
    assert hardware_resources(report) == {"cuda": 2.0}


def test_a_raising_probe_reads_as_absent():
    def broken() -> ProbeResult:
        raise OSError("driver exploded")

    report = detect_hardware({"cpu": hardware.probe_cpu, "cuda": broken})
    assert report.hardware == ["cpu"]
    assert "driver exploded" in report.results[1].detail


def test_a_hanging_probe_is_cut_off():
    release = threading.Event()
    report = detect_hardware({"rocm": lambda: (release.wait(30), ProbeResult("rocm", True))[1]}, timeout_s=0.3)
    release.set()
    assert report.hardware == [] and "timed out" in report.results[0].detail


def test_cpu_probe_reads_this_machine():
    result = hardware.probe_cpu()
    assert result.available and result.devices[0]["logical_cores"] >= 1


def test_every_default_probe_answers_on_this_machine():
    report = detect_hardware(hardware.default_probes(include_browser=False), timeout_s=10)
    assert [r.name for r in report.results] == ["cpu", "cuda", "rocm", "mps", "openvino", "qnn"]
    assert "cpu" in report.hardware


def test_rocm_smi_output_becomes_gpu_objects():
    gpus = hardware_gpu.parse_rocm_smi(ROCM_SMI_JSON)
    assert [g["name"] for g in gpus] == ["AMD Instinct MI210"] * 2
    assert gpus[0]["memory_total_gb"] == 63.984 and gpus[0]["memory_used_gb"] == 10.0
    assert gpus[0]["utilization"] == 37.0
    assert hardware_gpu.parse_rocm_smi("not json") == []


def test_browser_probe_rejects_software_fallback_adapters():
    fallback = '<pre id="dtmon">{"gpu": true, "fallback": true, "architecture": "swiftshader", "ml": false}</pre>'
    found = hardware_browser.interpret_probe_output(fallback, "chromium")
    assert not found.webgpu.available and "fallback" in found.webgpu.detail


def test_browser_probe_accepts_real_adapters_and_webnn():
    real = '<pre id="dtmon">{"gpu": true, "fallback": false, "vendor": "nvidia", "architecture": "ampere", ' \
           '"ml": true}</pre>'
    found = hardware_browser.interpret_probe_output(real, "chrome")
    assert found.webgpu.available and found.webgpu.devices[0]["name"] == "nvidia ampere"
    assert found.webnn.available


def test_browser_probe_without_output_is_absent():
    found = hardware_browser.interpret_probe_output("<html></html>", "chromium")
    assert not found.webgpu.available and not found.webnn.available


def test_a_process_exiting_mid_probe_leaves_no_browser_profile(tmp_path):
    """A short CLI run that exits while the browser probe runs must not leave profiles in the temp dir."""
    script = ("import threading, time\n"
              "from dtmon_reporter import hardware_browser\n"
              "threading.Thread(target=hardware_browser.probe_browser, daemon=True).start()\n"
              "time.sleep(0.3)\n")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []
