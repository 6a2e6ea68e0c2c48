"""Accelerator runtimes that announce themselves through Python packages: MPS, OpenVINO, QNN."""

from __future__ import annotations

import importlib
import platform

from dtmon_reporter import hardware


def probe_mps() -> "hardware.ProbeResult":
    """Metal Performance Shaders exist on Apple silicon; torch, when installed, has the final say."""
    if platform.system() != "Darwin" or platform.machine() != "arm64":
        return hardware.ProbeResult("mps", False, [], "not Apple silicon")
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return hardware.ProbeResult("mps", True, [{"name": "Apple GPU (Metal)"}], "Apple silicon")
    usable = bool(torch.backends.mps.is_available())
    return hardware.ProbeResult("mps", usable, [{"name": "Apple GPU (Metal)"}] if usable else [],
                                "torch reports MPS available" if usable else "torch reports MPS unavailable")


def probe_openvino() -> "hardware.ProbeResult":
    """Lists OpenVINO devices (CPU, GPU, NPU...) when the openvino runtime imports."""
    try:
        openvino = importlib.import_module("openvino")
    except ImportError:
        return hardware.ProbeResult("openvino", False, [], "openvino not installed")
    core = openvino.Core()
    devices = [{"name": str(core.get_property(d, "FULL_DEVICE_NAME")), "device": d}
               for d in core.available_devices]
    return hardware.ProbeResult("openvino", bool(devices), devices, ", ".join(core.available_devices))


def probe_qnn() -> "hardware.ProbeResult":
    """QNN (Qualcomm AI Engine Direct) is usable when onnxruntime offers its execution provider."""
    try:
        onnxruntime = importlib.import_module("onnxruntime")
    except ImportError:
        return hardware.ProbeResult("qnn", False, [], "onnxruntime (with QNN) not installed")
    providers = list(onnxruntime.get_available_providers())
    usable = "QNNExecutionProvider" in providers
    return hardware.ProbeResult("qnn", usable, [{"name": "QNNExecutionProvider"}] if usable else [],
                                "providers: " + ", ".join(providers))
