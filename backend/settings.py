"""Every setting of the server, read once from DTMON_* environment variables."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PREFIX = "DTMON_"


def _env(name: str) -> str:
    return PREFIX + name.upper()


@dataclass(frozen=True)
class Settings:
    """Server configuration; each field maps to DTMON_<FIELD> (documented in the README)."""

    db: str = "data/monitoring.duckdb"
    host: str = "127.0.0.1"
    port: int = 8051
    api_url: str = ""
    admin_password: str = field(default="", repr=False)
    heartbeat_interval: float = 5.0
    offline_after: float = 0.0
    tick_interval: float = 2.0
    trend_window: float = 3600.0
    health_window: float = 900.0
    rollup_interval: float = 60.0
    raw_retention: float = 48 * 3600.0
    minute_retention: float = 30 * 86400.0
    hour_retention: float = 365 * 86400.0
    task_retention: float = 30 * 86400.0
    commit_interval_ms: float = 10.0
    max_body_bytes: int = 16 * 1024 * 1024
    max_clock_skew: float = 300.0
    session_hours: float = 12.0
    trusted_proxies: str = ""
    snapshot_rows: int = 200
    ws_backlog: int = 16
    saturated_cpu: float = 90.0
    duckdb_memory_limit: str = "4GB"
    duckdb_threads: int = 2
    sql_timeout: float = 10.0
    sql_max_rows: int = 10000
    sql_max_bytes: int = 16 * 1024 * 1024
    alert_interval: float = 10.0
    webhook_timeout: float = 5.0
    webhook_allow_hosts: str = ""
    log_level: str = "INFO"
    oidc_metadata_url: str = ""
    oidc_client_id: str = ""
    oidc_role_claim: str = "groups"
    oidc_admin_values: str = ""
    oidc_user_values: str = ""
    oidc_name_claim: str = "email"
    analytics_interval: float = 5.0
    result_retention: float = 90 * 86400.0
    flaky_window: int = 30
    flaky_min_runs: int = 10
    flaky_flip_threshold: float = 0.1
    suspect_window: float = 7 * 86400.0
    suspect_alpha: float = 0.01
    quarantine_release_runs: int = 10
    benchmark_window: int = 200
    benchmark_penalty: float = 1.0
    benchmark_alpha: float = 1e-5
    benchmark_min_change: float = 3.0
    benchmark_tail_runs: int = 5
    benchmark_tail_alpha: float = 0.003

    def __post_init__(self) -> None:
        if self.offline_after <= 0:
            object.__setattr__(self, "offline_after", 3 * self.heartbeat_interval)
        try:
            self.proxy_networks()
        except ValueError:
            raise ValueError(f"{_env('trusted_proxies')}={self.trusted_proxies!r} is not a comma-separated "
                             "list of IP addresses or networks") from None

    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """Peers whose X-Forwarded-For names the real client (nobody unless configured)."""
        return tuple(ipaddress.ip_network(part.strip(), strict=False)
                     for part in self.trusted_proxies.split(",") if part.strip())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Build settings from the environment; a bad value names its variable."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(_env(f.name))
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f, raw)
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def _convert(f: dataclasses.Field, raw: str) -> Any:
    kind = f.type if isinstance(f.type, type) else {"int": int, "float": float, "str": str}.get(str(f.type), str)
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{_env(f.name)}={raw!r} is not a valid {kind.__name__}") from None


def env_names() -> list[str]:
    """All variable names, so a test can check that each is documented."""
    return [_env(f.name) for f in dataclasses.fields(Settings)]
