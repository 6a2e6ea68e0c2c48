"""WebGPU and WebNN probe: asks an installed Chromium-family browser, headless, what it offers.

The page requests a WebGPU adapter and a WebNN context with the browser's default flags,
which is what a browser test on this host would get. A software fallback adapter
(SwiftShader) does not count as WebGPU hardware.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from dtmon_reporter import hardware
from dtmon_reporter.processes import kill_group

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                 "microsoft-edge", "microsoft-edge-stable", "msedge")
MAC_BROWSERS = ("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
                "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge")
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--virtual-time-budget=5000", "--dump-dom")
PROBE_PAGE = """<html><body><pre id="dtmon">{}</pre><script>
(async () => {
  const r = {gpu: false, ml: false};
  try { const a = navigator.gpu && await navigator.gpu.requestAdapter();
        if (a) { const i = a.info || {}; r.gpu = true; r.fallback = !!(i.isFallbackAdapter || a.isFallbackAdapter);
                 r.vendor = i.vendor || ""; r.architecture = i.architecture || ""; } } catch (e) { r.gpu_error = String(e); }
  try { if (navigator.ml) { await navigator.ml.createContext(); r.ml = true; } } catch (e) { r.ml_error = String(e); }
  document.getElementById("dtmon").textContent = JSON.stringify(r);
})();
</script></body></html>"""

_RUNNING: dict[subprocess.Popen, str] = {}


@dataclass(frozen=True)
class BrowserFindings:
    """The two probe results one browser launch yields."""

    webgpu: "hardware.ProbeResult"
    webnn: "hardware.ProbeResult"


def find_browser() -> str | None:
    """First Chromium-family browser on PATH (or in /Applications on macOS)."""
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return next((path for path in MAC_BROWSERS if os.path.exists(path)), None)


@functools.lru_cache(maxsize=1)
def probe_browser(timeout_s: float = 15.0) -> BrowserFindings:
    """Launches the browser once per process; both probes share the answer."""
    browser = find_browser()
    if browser is None:
        return _absent("no Chromium-family browser installed")
    try:
        dom = _dump_probe_page(browser, timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _absent(f"{os.path.basename(browser)} failed: {type(exc).__name__}")
    return interpret_probe_output(dom, os.path.basename(browser))


def _dump_probe_page(browser: str, timeout_s: float) -> str:
    workdir = tempfile.mkdtemp(prefix="dtmon-probe-")
    page = os.path.join(workdir, "probe.html")
    with open(page, "w", encoding="utf-8") as handle:
        handle.write(PROBE_PAGE)
    command = [browser, *BROWSER_FLAGS, f"--user-data-dir={workdir}/profile", f"file://{page}"]
    # Its own session and temp dir, so a timeout or our exit stops its helpers and removes all it wrote.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True, env={**os.environ, "TMPDIR": workdir})
    _RUNNING[proc] = workdir
    try:
        return proc.communicate(timeout=timeout_s)[0]
    finally:
        _stop_probe(proc)


def _stop_probe(proc: subprocess.Popen) -> None:
    """Kills the browser's whole process group before removing the profile it writes into."""
    workdir = _RUNNING.pop(proc, None)
    kill_group(proc)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)


@atexit.register
def _stop_running_probes() -> None:
    """A process that exits mid-probe (a short CLI run) leaves no browser and no profile behind."""
    for proc in list(_RUNNING):
        _stop_probe(proc)


def interpret_probe_output(dom: str, browser_name: str) -> BrowserFindings:
    """Reads the JSON the probe page wrote into its DOM; pure, so tests can feed recorded output."""
    match = re.search(r'<pre id="dtmon">(.*?)</pre>', dom, re.S)
    try:
        found = json.loads(match.group(1)) if match else {}
    except ValueError:
        found = {}
    if not found:
        return _absent(f"{browser_name} did not run the probe page")
    return BrowserFindings(_webgpu(found, browser_name), _webnn(found, browser_name))


def _webgpu(found: dict, browser_name: str) -> "hardware.ProbeResult":
    usable = bool(found.get("gpu")) and not found.get("fallback")
    name = f"{found.get('vendor', '')} {found.get('architecture', '')}".strip() or "WebGPU adapter"
    devices = [{"name": name, "browser": browser_name}] if usable else []
    return hardware.ProbeResult("webgpu", usable, devices, _gpu_detail(found, browser_name))


def _webnn(found: dict, browser_name: str) -> "hardware.ProbeResult":
    usable = bool(found.get("ml"))
    detail = "WebNN context created" if usable else found.get("ml_error") or "navigator.ml absent"
    devices = [{"name": "WebNN", "browser": browser_name}] if usable else []
    return hardware.ProbeResult("webnn", usable, devices, f"{browser_name}: {detail}")


def _gpu_detail(found: dict, browser_name: str) -> str:
    if found.get("fallback"):
        return f"{browser_name}: only a software fallback adapter ({found.get('architecture', '')})"
    if found.get("gpu"):
        return f"{browser_name}: adapter {found.get('vendor', '')} {found.get('architecture', '')}".rstrip()
    return f"{browser_name}: {found.get('gpu_error') or 'no WebGPU adapter'}"


def _absent(reason: str) -> BrowserFindings:
    return BrowserFindings(hardware.ProbeResult("webgpu", False, [], reason),
                           hardware.ProbeResult("webnn", False, [], reason))
