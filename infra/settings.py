"""Typed settings for the local stack and for every component that talks to it.

Contract: nothing here touches the network or the disk at import time. `get_settings()` builds the
settings once (from `LG_*` environment variables and an optional `.env`) and caches them; components
receive a `StackSettings` (or one of its parts) as an argument instead of reading globals, so a test or a
production deployment passes other locations without code changes.
"""

from __future__ import annotations

import json
import ssl
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.bank.settings import BankSettings, with_local_defaults
from infra.access_settings import AccessSettings, AuditSettings, IdentitySettings
from infra.clickhouse.bi_settings import BiAccessSettings
from infra.tls import TlsFiles, local_tls_files

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class PostgresSettings(BaseModel):
    """The operational database (the legacy modules' tables) that Debezium captures."""

    host: str = "127.0.0.1"
    port: int = 55432
    database: str = "luckygas"
    user: str = "luckygas"
    password: SecretStr = SecretStr("luckygas-local")
    # Debezium's replication slot and publication; [a-z0-9_] only.
    slot_name: str = "luckygas_cdc"
    publication_name: str = "luckygas_cdc"

    def dsn(self) -> str:
        """A libpq connection string for this database."""
        return (
            f"host={self.host} port={self.port} dbname={self.database} "
            f"user={self.user} password={self.password.get_secret_value()}"
        )


class KafkaSettings(BaseModel):
    """The Kafka cluster: one KRaft node locally, any cluster in production."""

    bootstrap_servers: str = "127.0.0.1:19092"
    controller_port: int = 19093
    topic_prefix: str = "luckygas"
    partitions: int = 1
    heap_mb: int = 512


class ConnectSettings(BaseModel):
    """Kafka Connect with the Debezium PostgreSQL connector."""

    rest_url: str = "http://127.0.0.1:18083"
    connector_name: str = "luckygas-postgres"
    heartbeat_interval_ms: int = 5_000
    heap_mb: int = 768


class ClickHouseSettings(BaseModel):
    """ClickHouse: a local server from chdb-core, or a real cluster by URL."""

    host: str = "127.0.0.1"
    http_port: int = 18123
    tcp_port: int = 19000
    database: str = "luckygas"
    user: str = "default"
    password: SecretStr = SecretStr("")
    secure: bool = False
    # LZ4 on inserts and results: worth it across a network, pure CPU cost on one machine.
    compress: bool = False

    def http_url(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{self.host}:{self.http_port}"


class WorkerSettings(BaseModel):
    """The streaming worker's batching. A batch is every record fetched while the previous batch was being
    processed (fetching pauses once `batch_max` wait): small while the worker keeps up (low latency), large
    while it catches up (cheap per change)."""

    batch_max: int = 10_000
    # How long the broker may hold a fetch that finds no new records. A record arriving on a partition left
    # out of the fetch in flight waits for it, so this bounds the wait (Faust's fixed value is 1,500 ms).
    fetch_max_wait_ms: int = 50
    # Tables of one batch inserted concurrently (one ClickHouse client per thread), and decoding the next
    # batch while the last is written: both lose on one 2-core machine, where Python's GIL and the local
    # ClickHouse share the CPU (measured 2,319 and 2,992 events/s against 3,629 without); they are for a
    # ClickHouse cluster across a network, where the worker mostly waits.
    insert_threads: int = 1
    overlap_writes: bool = False
    # A backlog at least this long (records) is "catching up": /health, /freshness and the screens say so.
    catching_up_records: int = 5_000
    # A worker with a backlog that has written nothing for this long (or whose writes keep failing) is stalled.
    stall_seconds: float = 60.0
    # The engine's state (rows, indexes, aggregate cells) lives in RocksDB under `<state_dir>/worker/state`;
    # memory holds at most this many recently used entries per space (there are 30), plus RocksDB's cache.
    # Off: everything in memory, and every start recomputes from ClickHouse (memory grows with history).
    # A verify's barrier request (agents/barrier.py) not released after this long is released by the worker.
    barrier_hold_seconds: float = 300.0
    # Several workers (agents/shards.py): `shards` processes, each started with its own `shard` (0 ≤ shard <
    # shards); every one reads every topic and applies its part. Changing the count needs `make rebuild`.
    shards: int = Field(default=1, ge=1, le=64)
    # How long Kafka waits for a killed worker's consumer before a successor's group join completes (Faust's
    # default 60 s would make every takeover or restart after kill -9 a minute without data).
    session_timeout_seconds: float = Field(default=15.0, ge=6.0)
    shard: int = Field(default=0, ge=0, le=63)
    state_on_disk: bool = True
    cache_entries: int = 20_000
    state_cache_mib: int = 64

    @model_validator(mode="after")
    def _shard_of_shards(self) -> WorkerSettings:
        if self.shard >= self.shards:
            raise ValueError(f"worker shard {self.shard} is not below the shard count {self.shards}")
        return self


class ApiSettings(BaseModel):
    """The HTTP API (FastAPI under uvicorn) and the streaming worker it reports on."""

    host: str = "127.0.0.1"
    port: int = 18000
    # The spec's data-freshness SLA: a table whose newest data is older than this is reported stale.
    freshness_sla_seconds: int = 300
    # The worker writes its status every second; older than this, it is reported down.
    worker_stale_seconds: float = 15.0
    # HTTPS only (TLS 1.2 minimum, 1.3 preferred; no plain-HTTP listener). Unset files: the local stack's own
    # CA and certificate in `<state_dir>/tls` (made on first start; clients trust `ca.pem`).
    tls: bool = True
    certificate: Path | None = None
    private_key: Path | None = None
    ca_certificate: Path | None = None


class SupervisorSettings(BaseModel):
    """The supervisor that restarts the project's own processes when they die (`infra/supervisor.py`)."""

    # More restarts of one process than this within `window_seconds`: the supervisor gives up on it.
    max_restarts: int = 5
    window_seconds: float = 600.0
    # Restarts of one process wait 1 s, 2 s, 4 s … after it was last seen running, at most this long.
    max_backoff_seconds: float = 30.0


class StackSettings(BaseSettings):
    """Everything the local stack needs; every value can be overridden by `LG_<PART>__<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="LG_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    state_dir: Path = Field(default=PROJECT_ROOT / ".state")
    postgres: PostgresSettings = PostgresSettings()
    kafka: KafkaSettings = KafkaSettings()
    connect: ConnectSettings = ConnectSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    api: ApiSettings = ApiSettings()
    worker: WorkerSettings = WorkerSettings()
    supervisor: SupervisorSettings = SupervisorSettings()
    access: AccessSettings = AccessSettings()
    identity: IdentitySettings = IdentitySettings()
    audit: AuditSettings = AuditSettings()
    # ClickHouse logins for BI tools (not exported to child processes: passwords stay out of environments).
    bi_access: BiAccessSettings = BiAccessSettings()
    # The bank-statement import; unset file locations point into `state_dir` (see connectors/bank/settings.py).
    bank: BankSettings
    timezone: str = "Asia/Taipei"

    @model_validator(mode="before")
    @classmethod
    def _bank_locations_in_state_dir(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        state_dir = Path(data.get("state_dir") or PROJECT_ROOT / ".state")
        return {**data, "bank": with_local_defaults(data.get("bank"), state_dir)}

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def jars_dir(self) -> Path:
        return self.state_dir / "jars"

    @property
    def metrics_dir(self) -> Path:
        """prometheus_client's multiprocess directory, shared by the worker and the API."""
        return self.state_dir / "metrics"

    def api_url(self, path: str = "") -> str:
        """Where the API answers, e.g. `api_url("/health/live")`."""
        return f"{'https' if self.api.tls else 'http'}://{self.api.host}:{self.api.port}{path}"

    def api_tls_files(self) -> TlsFiles:
        """The API's certificate, key and the CA its clients trust (the local ones unless set)."""
        local = local_tls_files(self.state_dir / "tls")
        return TlsFiles(self.api.ca_certificate or local.ca_certificate, self.api.certificate or local.certificate,
                        self.api.private_key or local.private_key)

    def api_verify(self) -> ssl.SSLContext | bool:
        """What an HTTP client passes as `verify=` to trust the API's certificate."""
        if not self.api.tls:
            return True
        return ssl.create_default_context(cafile=str(self.api_tls_files().ca_certificate))

    def worker_dir(self, shard: int | None = None) -> Path:
        """A worker shard's directory (`worker/` when there is one shard, `worker/shard-<i>/` otherwise)."""
        index = self.worker.shard if shard is None else shard
        return self.state_dir / "worker" if self.worker.shards == 1 else self.state_dir / "worker" / f"shard-{index}"

    def worker_status_of(self, shard: int | None = None) -> Path:
        """A worker shard's status file (this process's shard by default)."""
        return self.worker_dir(shard) / "status.json"

    @property
    def worker_status_file(self) -> Path:
        return self.worker_status_of()

    @property
    def worker_state_dir(self) -> Path:
        """The streaming worker's RocksDB state (one worker per shard holds it: the shard's lease guards it)."""
        return self.worker_dir() / "state"

    @property
    def supervisor_status_file(self) -> Path:
        return self.state_dir / "supervisor" / "status.json"

    @property
    def bank_importer_status_file(self) -> Path:
        return self.state_dir / "bank" / "importer-status.json"

    @property
    def bank_landing_status_file(self) -> Path:
        return self.state_dir / "bank" / "landing-status.json"


@lru_cache(maxsize=1)
def get_settings() -> StackSettings:
    """The process-wide settings, built on first use."""
    return StackSettings()


def settings_env(settings: StackSettings) -> dict[str, str]:
    """The `LG_*` environment that rebuilds `settings` in a child process (e.g. the simulator)."""
    env: dict[str, str] = {"LG_STATE_DIR": str(settings.state_dir), "LG_TIMEZONE": settings.timezone}
    for part in ("postgres", "kafka", "connect", "clickhouse", "api", "worker", "access", "identity", "audit", "bank"):
        model: BaseModel = getattr(settings, part)
        for name, value in model.model_dump().items():
            if value is not None:
                env[f"LG_{part.upper()}__{name.upper()}"] = _env_value(value)
    return env


def _env_value(value: Any) -> str:
    """A settings value as pydantic-settings reads it back from the environment."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, frozenset | set):
        return json.dumps(sorted(value))
    if isinstance(value, list | tuple):
        return json.dumps(list(value), default=str)
    if isinstance(value, time):
        return value.isoformat()
    return str(value)
