"""Dask worker preload: hardware labels, GPU readings and the scheduler RTT ride on Dask's heartbeat.

`dask worker ADDRESS --preload dtmon_reporter.dask_worker` or, for workers already
running, `client.register_plugin(DtmonWorkerPlugin())`. Detected accelerators are also
advertised as Dask resources (cuda=number of GPUs, ...) unless the worker declared them,
so `run-tests --hardware cuda` finds the right workers.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import click
from distributed.diagnostics.plugin import WorkerPlugin

from dtmon_reporter.hardware import HardwareReport, detect_cached, live_gpus
from dtmon_reporter.pytest_task import TOPIC


def hardware_resources(report: HardwareReport) -> dict[str, float]:
    """One resource unit per GPU and one per other accelerator; the CPU is Dask's own nthreads."""
    counted = {r.name: float(max(1, len(r.devices))) for r in report.results if r.available and r.name != "cpu"}
    return counted


async def install(worker: Any, *, include_browser: bool = True, advertise: bool = True,
                  registered: bool = False) -> HardwareReport:
    """Adds the dtmon metrics to a worker; probes run in a thread to keep the worker loop free."""
    report = await asyncio.to_thread(detect_cached, include_browser)
    worker.startup_information["dtmon"] = lambda _w: {
        "hardware": report.hardware, "hostname": socket.gethostname(), "capabilities": report.capabilities()}
    worker.metrics["dtmon_hardware"] = lambda _w: report.hardware
    worker.metrics["dtmon_rtt_ms"] = lambda w: w.latency * 1000.0
    if report.gpus:
        worker.metrics["dtmon_gpus"] = lambda _w: asyncio.to_thread(live_gpus, report)
    if advertise:
        await _advertise(worker, hardware_resources(report), registered)
    return report


async def _advertise(worker: Any, resources: dict[str, float], registered: bool) -> None:
    """Before registration the state is sent with the handshake; afterwards the scheduler is told."""
    missing = {name: count for name, count in resources.items() if name not in worker.state.total_resources}
    if not missing:
        return
    if registered:
        await worker.set_resources(**missing)
        return
    worker.state.total_resources.update(missing)
    worker.state.available_resources.update(missing)


@click.command()
@click.option("--dtmon-browser-probe/--no-dtmon-browser-probe", default=True,
              help="Launch an installed Chromium once to detect WebGPU/WebNN.")
@click.option("--dtmon-resources/--no-dtmon-resources", default=True,
              help="Advertise detected accelerators as Dask resources.")
async def dask_setup(worker: Any, dtmon_browser_probe: bool, dtmon_resources: bool) -> None:
    """Entry point of `--preload dtmon_reporter.dask_worker`."""
    await worker.plugin_add(DtmonWorkerPlugin(dtmon_browser_probe, dtmon_resources, registered=False),
                            name=DtmonWorkerPlugin.name)


class DtmonWorkerPlugin(WorkerPlugin):
    """What the preload installs; register it yourself on clusters that are already running."""

    name = "dtmon-worker"

    def __init__(self, include_browser: bool = True, advertise: bool = True, registered: bool = True) -> None:
        self.include_browser, self.advertise, self.registered = include_browser, advertise, registered

    async def setup(self, worker: Any) -> None:
        self.worker = worker
        await install(worker, include_browser=self.include_browser, advertise=self.advertise,
                      registered=self.registered)

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        """Only the worker knows when a task really runs (it may queue there); the scheduler plugin is told."""
        if finish == "executing":
            self.worker.log_event(TOPIC, {"op": "executing", "key": key})
