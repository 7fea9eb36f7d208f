"""Real peers for the SMS connector tests: a redis-server process and the fake gateway over real HTTP.

- `redis_server` (module scope): `redis-server` on a free 127.0.0.1 port, no persistence, state in a tmp
  dir, stopped at the end. Each test gets its own key prefix (`sms_settings`) so tests never share state.
- `start_gateway(**config)`: a fake gateway (uvicorn in a thread, free port) per test, stopped afterwards.
- `start_app(app)`: any ASGI app (our receipts router) the same way, for the gateway's callbacks.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.sms.fake_gateway import BackgroundServer, FakeGatewayConfig, FakeGatewayState, create_fake_gateway_app
from connectors.sms.settings import SmsSettings
from infra.process import ManagedProcess, free_port, port_open, wait_until

API_KEY = "integration-api-key-0123456789"
RECEIPT_SECRET = "integration-receipt-secret-0123456789"


@dataclass(frozen=True)
class RedisServer:
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (Debian package redis-server; `make system-deps`)")
    run_dir = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = ManagedProcess(
        name="redis-sms",
        argv=[
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(run_dir),
            "--protected-mode",
            "yes",
        ],
        run_dir=run_dir,
        stop_timeout=10,
    )
    proc.start()
    try:
        wait_until(lambda: port_open("127.0.0.1", port), 15, "redis-server", proc.log_file)
        yield RedisServer(port)
    finally:
        proc.stop()


@dataclass(frozen=True)
class Gateway:
    server: BackgroundServer
    state: FakeGatewayState
    config: FakeGatewayConfig

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def start_gateway() -> Iterator[Callable[..., Gateway]]:
    started: list[BackgroundServer] = []

    def start(**overrides: Any) -> Gateway:
        config = FakeGatewayConfig(api_keys=frozenset({API_KEY}), receipt_secret=RECEIPT_SECRET, **overrides)
        state = FakeGatewayState()
        server = BackgroundServer(create_fake_gateway_app(config, state)).start()
        started.append(server)
        return Gateway(server, state, config)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_app() -> Iterator[Callable[[Any], BackgroundServer]]:
    started: list[BackgroundServer] = []

    def start(app: Any) -> BackgroundServer:
        server = BackgroundServer(app).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sms_settings(redis_server: RedisServer) -> Callable[..., SmsSettings]:
    """Settings for one test: its own Redis key prefix, fast backoff; override anything per call."""
    prefix = f"t{uuid.uuid4().hex[:12]}"

    def build(gateway_url: str, **overrides: Any) -> SmsSettings:
        values: dict[str, Any] = {
            "gateway_base_url": gateway_url,
            "api_key": API_KEY,
            "receipt_hmac_secret": RECEIPT_SECRET,
            "redis_url": redis_server.url,
            "redis_key_prefix": prefix,
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.5,
            "request_timeout_seconds": 5.0,
            "rate_wait_timeout_seconds": 60.0,
        }
        values.update(overrides)
        return SmsSettings(_env_file=None, **values)

    return build
