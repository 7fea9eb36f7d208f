"""Access-control benchmark: what authentication, row filtering and auditing add to a KPI request, how many
audit records per second the PostgreSQL trail takes, and how long verifying its chain takes.

    python -m infra.bench --only access [--access-days 7] [--keep]

On the bench stack (history backfilled, streamed into ClickHouse by the worker, plus a short live simulation
so today has orders), with Redis and the real API process (`python -m api`: `create_app` with its PostgreSQL
audit trail, Redis rate limits and ClickHouse), and beside it the baseline `infra.bench.access_app`: the
product's KPI route function (same SQL) with a fixed scope and no access control, under the same uvicorn
options and TLS certificate. One HTTPS client (httpx, keep-alive) times GET /kpis/today on both:

- with a head-office person's token and a branch manager's (password sign-in at /oauth/token, the demo
  users), against the baseline with all branches and with the manager's branch (same SQL each);
- sequentially (one request at a time) and with 8 concurrent requests; after a warm-up, in rounds that
  alternate the four variants (request by request when sequential, in blocks of 10 per worker when
  concurrent), so the shared machine's drifting load falls on all of them alike.

Then the parts alone (ES256 token verification, the Redis rate-limit check with the product's limit),
N audit events appended through `PostgresAuditLog` (its hash chain and group commit) by one appender and
by 8 concurrent ones, and the whole chain verified as `python -m api.access.audit_verify` does.

The API's per-principal limit is raised from 600/minute to 600/second for the run (the bench would be
refused after 600 requests otherwise): the same moving-window capacity, so each check does the same Redis
work as the product's (a window list of at most 600 entries).
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import psutil
import psycopg

from api.access.audit_chain import AuditEvent
from api.access.audit_pg import PostgresAuditLog, verify_store
from api.access.audit_verify import report
from api.access.limits import RateLimiter
from api.access.principal import Principal
from api.access.seed_demo_users import DemoUser
from api.access.tokens import TokenVerifier, key_source
from infra import stack
from infra.access_settings import IdentitySettings
from infra.bench import streaming
from infra.bench.access_app import bare_port
from infra.bench.access_report import latency_summary, rotated
from infra.bench.cdc import simulate, simulation_result
from infra.clock import SystemClock
from infra.process import ManagedProcess, StackError, wait_until
from infra.redis.runner import start_redis
from infra.services import api_process, start_services
from infra.settings import StackSettings, settings_env

BENCH_RATE_LIMIT = "600/second"
REQUESTS, CONCURRENCY, WARMUP, PER_WORKER_BLOCK = 2000, 8, 200, 10
AUDIT_RECORDS = 5000
LIVE_RATE, LIVE_SECONDS = 50.0, 20.0
TOKEN_REUSE_SECONDS = 600  # access tokens live 15 minutes: sign in again after 10
BARE_NAME = "api-bare"


@dataclass(frozen=True)
class Variant:
    """One way of asking for today's KPIs: `user` None is the baseline (no credentials)."""

    name: str
    url: str
    user: str | None
    server: str  # the ManagedProcess that answers: "api" or BARE_NAME


def with_bench_limits(settings: StackSettings) -> StackSettings:
    identity = settings.identity.model_copy(update={"rate_limit_principal": BENCH_RATE_LIMIT})
    return settings.model_copy(update={"identity": identity})


def variants(settings: StackSettings, branch: str) -> list[Variant]:
    full = settings.api_url("/kpis/today")
    bare = f"{'https' if settings.api.tls else 'http'}://{settings.api.host}:{bare_port(settings)}/kpis/today"
    return [Variant("with_head_office", full, "head_office", "api"),
            Variant("with_branch_manager", full, "branch_manager", "api"),
            Variant("without_all_branches", bare, None, BARE_NAME),
            Variant("without_one_branch", f"{bare}?branch={branch}", None, BARE_NAME)]


# ---------------------------------------------------------------- the stack and the baseline server


def prepare(settings: StackSettings, results: dict[str, Any]) -> dict[str, DemoUser]:
    """After `bring_up`: audit schema and demo users, Redis, worker and API; the history and a little live
    load streamed into ClickHouse. The users the benchmark signs in as, by role."""
    ends = asyncio.run(streaming.end_offsets(settings))
    users = stack.prepare_access(settings)
    start_redis(*stack.redis_address(settings), settings.state_dir)
    start_services(settings)
    streaming.wait_caught_up(settings, ends, timeout=1800)
    live = simulation_result(simulate(settings, LIVE_RATE, LIVE_SECONDS, seed=7))
    streaming.wait_caught_up(settings, asyncio.run(streaming.end_offsets(settings)), timeout=600)
    results["today_live_changes"] = live["row_changes"]
    chosen = {role: next(u for u in users if u.role == role) for role in ("head_office", "branch_manager")}
    results["users"] = {role: {"subject": u.subject, "branch": u.branch} for role, u in chosen.items()}
    return chosen


def bare_process(settings: StackSettings) -> ManagedProcess:
    env = {**settings_env(settings), "PROMETHEUS_MULTIPROC_DIR": str(settings.metrics_dir)}  # as the API's
    return ManagedProcess(BARE_NAME, [sys.executable, "-m", "infra.bench.access_app"], settings.state_dir,
                          env=env, stop_timeout=10)


def start_bare(settings: StackSettings, url: str) -> None:
    process = bare_process(settings)
    process.start()

    def answers() -> bool:
        try:
            return httpx.get(url, timeout=5, verify=settings.api_verify()).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(lambda: not process.running() or answers(), 60, "the bench baseline", process.log_file)
    if not process.running():
        raise StackError(f"the bench baseline exited during start; see {process.log_file}")


# ---------------------------------------------------------------- HTTP load


class Tokens:
    """Access tokens of the demo users, from the API's /oauth/token (password grant), renewed after 10 min."""

    def __init__(self, settings: StackSettings, users: dict[str, DemoUser], client: httpx.AsyncClient) -> None:
        self.settings, self.users, self.client = settings, users, client
        self._tokens: dict[str, tuple[str, float]] = {}

    async def token(self, role: str) -> str:
        token, at = self._tokens.get(role, ("", -math.inf))
        if time.monotonic() - at > TOKEN_REUSE_SECONDS:
            user = self.users[role]
            response = await self.client.post(self.settings.api_url("/oauth/token"), data={
                "grant_type": "password", "client_id": self.settings.identity.web_client_id,
                "username": user.user, "password": user.password})
            response.raise_for_status()
            token = str(response.json()["access_token"])
            self._tokens[role] = (token, time.monotonic())
        return token

    async def headers(self, variant: Variant) -> dict[str, str]:
        return {} if variant.user is None else {"Authorization": f"Bearer {await self.token(variant.user)}"}


async def timed(client: httpx.AsyncClient, url: str, headers: dict[str, str], count: int,
                concurrency: int) -> tuple[list[float], float]:
    """`count` GETs by `concurrency` workers; each request's latency (ms) and the wall time (s)."""
    latencies: list[float] = []
    left = count

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            response = await client.get(url, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise StackError(f"GET {url}: {response.status_code} {response.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


def block_size(concurrency: int) -> int:
    """Requests per variant between switches: one when sequential (the variants alternate request by request),
    10 per worker when concurrent (short blocks: the same load on one server at a time, switched every few s)."""
    return 1 if concurrency == 1 else PER_WORKER_BLOCK * concurrency


def cpu_seconds(process: psutil.Process) -> float:
    """CPU time (user + system, every thread) a process has used so far."""
    times = process.cpu_times()
    return float(times.user + times.system)


async def load(client: httpx.AsyncClient, tokens: Tokens, runs: list[Variant], servers: dict[str, psutil.Process],
               requests: int, concurrency: int) -> dict[str, Any]:
    """Warm up every variant, then alternate them in blocks (`block_size`), each round starting with the
    next variant, so the shared machine's drifting load falls on all alike; their latency summaries, the CPU
    the answering server process spent per request (far less noisy than latency here), and the machine's
    CPU use and load while they ran."""
    samples: dict[str, list[float]] = {v.name: [] for v in runs}
    walls, cpu = dict.fromkeys(samples, 0.0), dict.fromkeys(samples, 0.0)
    for variant in runs:
        await timed(client, variant.url, await tokens.headers(variant), WARMUP, concurrency)
    block = block_size(concurrency)
    psutil.cpu_percent()
    for round_ in range(requests // block):
        for variant in rotated(runs, round_):
            headers, server = await tokens.headers(variant), servers[variant.server]
            before = cpu_seconds(server)
            latencies, wall = await timed(client, variant.url, headers, block, concurrency)
            cpu[variant.name] += cpu_seconds(server) - before
            samples[variant.name] += latencies
            walls[variant.name] += wall
    out: dict[str, Any] = {name: {**latency_summary(values), "requests_per_second": round(len(values) / walls[name], 1),
                                  "server_cpu_ms_per_request": round(cpu[name] * 1000 / len(values), 2)}
                           for name, values in samples.items()}
    out["machine"] = {"cpu_percent": psutil.cpu_percent(), "load_average_1m": round(os.getloadavg()[0], 1),
                      "block": block}
    return out


async def same_figures(client: httpx.AsyncClient, tokens: Tokens, runs: list[Variant]) -> dict[str, Any]:
    """Each token's answer equals the baseline's of the same scope (but for `as_of`)."""
    bodies = {}
    for variant in runs:
        response = await client.get(variant.url, headers=await tokens.headers(variant))
        response.raise_for_status()
        bodies[variant.name] = {k: v for k, v in response.json().items() if k != "as_of"}
    return {"head_office": bodies["with_head_office"] == bodies["without_all_branches"],
            "branch_manager": bodies["with_branch_manager"] == bodies["without_one_branch"],
            "figures_all_branches": bodies["without_all_branches"]}


async def http_phase(settings: StackSettings, users: dict[str, DemoUser]) -> dict[str, Any]:
    runs = variants(settings, users["branch_manager"].branch)
    servers = {}
    for process in (api_process(settings), bare_process(settings)):
        pid = process.pid()
        if pid is None:
            raise StackError(f"{process.name} is not running")
        servers[process.name] = psutil.Process(pid)
    limits = httpx.Limits(max_connections=4 * CONCURRENCY, max_keepalive_connections=4 * CONCURRENCY)
    async with httpx.AsyncClient(verify=settings.api_verify(), timeout=30, limits=limits) as client:
        tokens = Tokens(settings, users, client)
        out: dict[str, Any] = {"same": await same_figures(client, tokens, runs)}
        out["sequential"] = await load(client, tokens, runs, servers, REQUESTS, 1)
        out[f"concurrent_{CONCURRENCY}"] = await load(client, tokens, runs, servers, REQUESTS, CONCURRENCY)
        out["token"] = await tokens.token("head_office")
    return out


# ---------------------------------------------------------------- the parts alone


def token_verification(settings: StackSettings, token: str, count: int = 2000) -> dict[str, float]:
    """The API's `TokenVerifier` (ES256, key set from the JWKS file) on one token, `count` times (ms)."""
    verifier = TokenVerifier(settings.access, key_source(settings), SystemClock())
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        verifier.verify(token)
        latencies.append((time.perf_counter() - started) * 1000)
    return latency_summary(latencies)


async def rate_limit_checks(identity: IdentitySettings, count: int = 2000) -> dict[str, float]:
    """`RateLimiter.check_principal` with the product's limit (600/minute), a fresh subject every 500 checks
    (never refused; windows up to 500 entries); per check, ms."""
    limiter = RateLimiter(identity.model_copy(update={"rate_limit_principal": IdentitySettings().rate_limit_principal}))
    latencies = []
    try:
        for i in range(count):
            principal = Principal(f"user:bench-{i // 500}", "person", "analyst", None, frozenset(), None, None)
            started = time.perf_counter()
            decision = await limiter.check_principal(principal)
            latencies.append((time.perf_counter() - started) * 1000)
            if not decision.allowed:
                raise StackError(f"rate-limit check {i} was refused: {decision}")
    finally:
        await limiter.close()
    return latency_summary(latencies)


# ---------------------------------------------------------------- the audit trail


def audit_event(i: int) -> AuditEvent:
    """What the API records for one GET /kpis/today."""
    return AuditEvent(at=datetime.now(UTC), kind="data_access", principal=f"emp:{1000 + i % 50}",
                      route="GET /kpis/today", parameters={}, branch_filter="all", rows=1, bytes=420,
                      content_sha256=f"{i:064x}", duration_ms=12.5, status=200)


async def _scalar(dsn: str, query: str, params: tuple[Any, ...] = ()) -> int:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        row = await (await conn.execute(query.encode(), params)).fetchone()
    return int(row[0] or 0) if row else 0


async def head_seq(dsn: str) -> int:
    return await _scalar(dsn, "SELECT coalesce(max(seq), 0) FROM audit.events")


async def appends(log: PostgresAuditLog, dsn: str, count: int, concurrency: int) -> dict[str, Any]:
    """`count` events by `concurrency` appenders, each waiting for its commit; records/s and commits made."""
    first = await head_seq(dsn)
    latencies: list[float] = []

    async def appender(offset: int) -> None:
        for i in range(offset, count, concurrency):
            started = time.perf_counter()
            await log.append(audit_event(i))
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(appender(k) for k in range(concurrency)))
    seconds = time.perf_counter() - started
    last = await head_seq(dsn)
    # One transaction per group commit: the distinct inserting transactions of the new records.
    commits = await _scalar(dsn, "SELECT count(DISTINCT xmin::text) FROM audit.events WHERE seq > %s AND seq <= %s",
                            (first, last))
    return {"appenders": concurrency, "records": count, "seconds": round(seconds, 2),
            "records_per_second": round(count / seconds), "commits": commits,
            "records_per_commit": round((last - first) / commits, 1) if commits else None,
            "others_appended_meanwhile": last - first - count,  # 0 unless something else wrote (the API is idle)
            **{f"append_{k}": v for k, v in latency_summary(latencies).items() if k != "requests"}}


async def audit_phase(dsn: str, count: int = AUDIT_RECORDS, concurrency: int = CONCURRENCY) -> dict[str, Any]:
    out: dict[str, Any] = {"records_before": await head_seq(dsn)}
    log = PostgresAuditLog(dsn)  # as the API opens it (owner DSN, default timeout)
    await log.open()
    try:
        out["sequential"] = await appends(log, dsn, count, 1)
        out[f"concurrent_{concurrency}"] = await appends(log, dsn, count, concurrency)
    finally:
        await log.close()
    started = time.perf_counter()
    result = await verify_store(dsn, timeout=600)
    seconds = time.perf_counter() - started
    out["verify"] = {"ok": result.ok, "checked": result.checked, "seconds": round(seconds, 2),
                     "records_per_second": round(result.checked / seconds), "report": report(result)}
    return out


# ---------------------------------------------------------------- the run


def run(settings: StackSettings, results: dict[str, Any]) -> None:
    """Everything after `bring_up`, into `results` (the baseline server is stopped at the end)."""
    try:
        users = prepare(settings, results)
        start_bare(settings, variants(settings, users["branch_manager"].branch)[2].url)
        http = asyncio.run(http_phase(settings, users))
        token = http.pop("token")
        results["kpis"] = http
        results["parts_ms"] = {"token_verification": token_verification(settings, token),
                               "rate_limit_check": asyncio.run(rate_limit_checks(settings.identity))}
        results["audit"] = asyncio.run(audit_phase(settings.postgres.dsn()))
    finally:
        bare_process(settings).stop()

