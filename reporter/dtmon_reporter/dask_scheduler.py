"""Dask scheduler preload: `dask scheduler --preload dtmon_reporter.dask_scheduler --dtmon-url URL --dtmon-token T`."""

from __future__ import annotations

from typing import Any

import click

from dtmon_reporter.dask_plugin import TRACK_MODES, DtmonSchedulerPlugin


@click.command()
@click.option("--dtmon-url", envvar="DTMON_URL", required=True, help="Backend URL, e.g. http://monitor:8050")
@click.option("--dtmon-token", envvar="DTMON_TOKEN", required=True, help="A token with the ingest role.")
@click.option("--dtmon-interval", default=5.0, show_default=True, help="Seconds between worker heartbeats.")
@click.option("--dtmon-tasks", type=click.Choice(TRACK_MODES), default="all", show_default=True,
              help="Report every task, or only tasks annotated with a dashboard `type`.")
@click.option("--dtmon-coordinator", default="coordinator", show_default=True,
              help="Node id of this scheduler on the network map.")
def dask_setup(scheduler: Any, dtmon_url: str, dtmon_token: str, dtmon_interval: float, dtmon_tasks: str,
               dtmon_coordinator: str) -> None:
    """Installs the plugin before the scheduler starts, so it sees every worker and graph."""
    plugin = DtmonSchedulerPlugin(dtmon_url, dtmon_token, interval_s=dtmon_interval, track=dtmon_tasks,
                                  coordinator_id=dtmon_coordinator)
    scheduler.add_plugin(plugin, name=DtmonSchedulerPlugin.name)
