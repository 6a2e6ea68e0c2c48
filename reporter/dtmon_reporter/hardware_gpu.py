"""GPU probes: CUDA through NVML (nvidia-ml-py, optional) and ROCm through the rocm-smi tool."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
from typing import Any

from dtmon_reporter import hardware

GIB = 2**30


def probe_cuda() -> "hardware.ProbeResult":
    """Reads every NVIDIA GPU through NVML; absent when nvidia-ml-py or the driver is missing."""
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError:
        return hardware.ProbeResult("cuda", False, [], "nvidia-ml-py not installed")
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError subclasses vary by driver; any of them means no usable GPU
        return hardware.ProbeResult("cuda", False, [], f"NVML unavailable: {exc}")
    try:
        devices = [_nvml_device(nvml, index) for index in range(nvml.nvmlDeviceGetCount())]
    finally:
        nvml.nvmlShutdown()
    return hardware.ProbeResult("cuda", bool(devices), devices, f"{len(devices)} NVIDIA GPU(s)")


def _nvml_device(nvml: Any, index: int) -> dict[str, Any]:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    name = nvml.nvmlDeviceGetName(handle)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    return {"name": name.decode() if isinstance(name, bytes) else str(name), "index": index,
            "memory_used_gb": round(memory.used / GIB, 3), "memory_total_gb": round(memory.total / GIB, 3),
            "utilization": float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)}


def probe_rocm(timeout_s: float = 10.0) -> "hardware.ProbeResult":
    """Asks rocm-smi for product names, VRAM and use; absent when the tool is not installed."""
    tool = shutil.which("rocm-smi")
    if tool is None:
        return hardware.ProbeResult("rocm", False, [], "rocm-smi not found")
    command = [tool, "--showproductname", "--showmeminfo", "vram", "--showuse", "--json"]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return hardware.ProbeResult("rocm", False, [], f"rocm-smi failed: {exc}")
    devices = parse_rocm_smi(completed.stdout)
    return hardware.ProbeResult("rocm", bool(devices), devices, f"{len(devices)} AMD GPU(s)")


def parse_rocm_smi(text: str) -> list[dict[str, Any]]:
    """Turns rocm-smi --json output ({"card0": {...}}) into the API's GPU objects."""
    try:
        cards = json.loads(text)
    except ValueError:
        return []
    if not isinstance(cards, dict):
        return []
    return [_rocm_card(name, fields) for name, fields in sorted(cards.items())
            if name.startswith("card") and isinstance(fields, dict)]


def _rocm_card(card: str, fields: dict[str, Any]) -> dict[str, Any]:
    used, total = _number(fields, "VRAM Total Used Memory (B)"), _number(fields, "VRAM Total Memory (B)")
    name = fields.get("Card series") or fields.get("Card model") or fields.get("Card SKU") or card
    return {"name": str(name), "index": int(card[4:]) if card[4:].isdigit() else None,
            "memory_used_gb": None if used is None else round(used / GIB, 3),
            "memory_total_gb": None if total is None else round(total / GIB, 3),
            "utilization": _number(fields, "GPU use (%)")}


def _number(fields: dict[str, Any], key: str) -> float | None:
    try:
        return float(fields[key])
    except (KeyError, TypeError, ValueError):
        return None
