"""The report benchmark's requests to the real API process (`python -m api`, HTTPS, a real access token).

- `Session`: a head-office person signed in with a password at /oauth/token, then TOTP-verified
  (/mfa/totp/enrol once, /mfa/totp/verify with a fresh pyotp code): sensitive reports (ledger, bank) need an
  MFA within 15 minutes, so the token is renewed the same way every `RENEW_SECONDS`.
- `latency_rounds`: each round restarts the API (the result cache is in-process: a fresh process has none),
  warms it up with a request the rounds never make, then asks for every case once (the round's ranges,
  distinct from every other round's), in an order rotated each round; slow cases (over `SLOW_MS` in the
  first round) are asked in the first `SLOW_ROUNDS` rounds only.
- `export`: one download streamed through the API (read and thrown away as it arrives; Parquet into a temp
  file, to count its rows from the footer), rows/s, time to the first byte, and the API process's RSS sampled
  every `RSS_EVERY` s with psutil meanwhile.
- `concurrent`: N requests by `clients` concurrent workers sharing one httpx.AsyncClient (one connection
  each, opened before the clock starts); requests/s, p50/p99 and the status codes.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import psutil
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pyotp

from api.access.seed_demo_users import DemoUser
from infra.bench.reports_cases import Case, case_result, memory_growth, row_count, summary
from infra.process import wait_until
from infra.services import api_healthy, api_process
from infra.settings import StackSettings

RENEW_SECONDS = 600  # MFA must be under 15 minutes old for sensitive reports
SLOW_MS, SLOW_ROUNDS = 3000.0, 3
RSS_EVERY = 0.02
TIMEOUT = httpx.Timeout(600.0, connect=30.0)
BROKE_OFF = 0  # the status recorded for a body cut off mid-stream


class Session:
    """A head-office person's MFA-verified access token (see the module docstring)."""

    def __init__(self, settings: StackSettings, user: DemoUser) -> None:
        self.settings, self.user = settings, user
        # Kept with the stack: a `--reuse` run signs in as the person the first run enrolled (enrolling
        # again is refused with a 409).
        self.secret_file = settings.state_dir / "bench-totp-secret"
        self.secret: str | None = self.secret_file.read_text().strip() if self.secret_file.exists() else None
        self.last_step = -1
        self._token, self._at = "", -math.inf

    def headers(self, fresh: bool = False) -> dict[str, str]:
        """The bearer header; `fresh`: a token just issued (for a phase that reuses it for minutes)."""
        if fresh or time.monotonic() - self._at > RENEW_SECONDS:
            self._token, self._at = self._sign_in(), time.monotonic()
        return {"Authorization": f"Bearer {self._token}"}

    def _sign_in(self) -> str:
        url = self.settings.api_url
        with httpx.Client(verify=self.settings.api_verify(), timeout=30) as client:
            signed = client.post(url("/oauth/token"), data={
                "grant_type": "password", "client_id": self.settings.identity.web_client_id,
                "username": self.user.user, "password": self.user.password})
            signed.raise_for_status()
            bearer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
            if self.secret is None:
                enrolled = client.post(url("/mfa/totp/enrol"), headers=bearer)
                enrolled.raise_for_status()
                self.secret = str(enrolled.json()["secret"])
                self.secret_file.write_text(self.secret)
                self.secret_file.chmod(0o600)
            while int(time.time() // 30) <= self.last_step:  # a code is accepted once: wait for the next one
                time.sleep(1)
            self.last_step = int(time.time() // 30)
            verified = client.post(url("/mfa/totp/verify"), headers=bearer,
                                   json={"code": pyotp.TOTP(self.secret).now()})
            verified.raise_for_status()
            return str(verified.json()["access_token"])


def restart_api(settings: StackSettings) -> int:
    """Stop and start the API process (a fresh, empty result cache); its pid."""
    process = api_process(settings)
    process.stop()
    pid = process.start()
    wait_until(lambda: api_healthy(settings) or not process.running(), 90, "API", process.log_file)
    return pid


def report_url(settings: StackSettings, report: str) -> str:
    return settings.api_url(f"/reports/{report}")


def get_whole(client: httpx.Client, session: Session, url: str,
              params: Mapping[str, str]) -> tuple[float, int, int, bytes]:
    """GET to the last byte: (ms, status, bytes, the last 64 bytes); status `BROKE_OFF` when the connection
    closed before the body was complete (a streamed report whose query failed after the headers were sent)."""
    headers = session.headers()
    size, tail, status = 0, b"", BROKE_OFF
    started = time.perf_counter()
    try:
        with client.stream("GET", url, params=dict(params), headers=headers) as response:
            for chunk in response.iter_bytes():
                size += len(chunk)
                tail = (tail + chunk)[-64:]
            status = response.status_code
    except (httpx.RemoteProtocolError, httpx.ReadError):
        pass
    return (time.perf_counter() - started) * 1000, status, size, tail


def warm_up(client: httpx.Client, session: Session, settings: StackSettings, params: Mapping[str, str]) -> None:
    """What a fresh API process does once: the listing, and one report the rounds never ask for."""
    client.get(settings.api_url("/reports"), headers=session.headers()).raise_for_status()
    for _ in range(3):
        _, status, _, _ = get_whole(client, session, report_url(settings, "daily_sales"), params)
        if status != 200:
            raise RuntimeError(f"warm-up request answered {status}")


def rotated(items: Sequence[Case], shift: int) -> list[Case]:
    k = shift % len(items) if items else 0
    return [*items[k:], *items[:k]]


def latency_rounds(settings: StackSettings, session: Session, rounds: list[list[Case]],
                   warm_params: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every case of every round, uncached; one result per case (see the module docstring)."""
    samples: dict[str, list[float]] = {}
    last: dict[str, tuple[Case, int, int, int | None]] = {}
    slow: set[str] = set()
    for number, cases in enumerate(rounds):
        restart_api(settings)
        with httpx.Client(verify=settings.api_verify(), timeout=TIMEOUT) as client:
            warm_up(client, session, settings, warm_params)
            for case in rotated(cases, number * 7):
                seen = last.get(case.key)
                if (case.key in slow and number >= SLOW_ROUNDS) or (seen is not None and seen[1] != 200):
                    continue
                ms, status, size, tail = get_whole(client, session, report_url(settings, case.report), case.params)
                last[case.key] = (case, status, size, row_count(tail))
                if status == 200:
                    samples.setdefault(case.key, []).append(ms)
                    if ms > SLOW_MS:
                        slow.add(case.key)
        print(f"reports bench: round {number + 1}/{len(rounds)} done", flush=True)
    return [case_result(case, samples.get(key, []), rows, size, status)
            for key, (case, status, size, rows) in last.items()]


class RssSampler:
    """RSS of one process sampled in a thread every `every` seconds (MiB)."""

    def __init__(self, pid: int, every: float = RSS_EVERY) -> None:
        self.process, self.every = psutil.Process(pid), every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_mb(self) -> float:
        return float(self.process.memory_info().rss) / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.rss_mb())
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def export(settings: StackSettings, session: Session, report: str, params: Mapping[str, str], fmt: str,
           api_pid: int) -> dict[str, Any]:
    """One download of `report` in `fmt` (see the module docstring)."""
    probe = RssSampler(api_pid)
    baseline = min(probe.rss_mb() for _ in range(5))
    lines, size, first_byte, tail, problem = 0, 0, math.nan, b"", ""
    with tempfile.TemporaryDirectory(dir=settings.state_dir) as scratch, \
            httpx.Client(verify=settings.api_verify(), timeout=TIMEOUT) as client:
        target = Path(scratch) / f"export.{fmt}"
        headers = session.headers()
        status = BROKE_OFF
        with RssSampler(api_pid) as sampler, target.open("wb") as out:
            started = time.perf_counter()
            try:
                with client.stream("GET", report_url(settings, report), params={**params, "format": fmt},
                                   headers=headers) as response:
                    for chunk in response.iter_bytes(1 << 20):
                        if size == 0:
                            first_byte = time.perf_counter() - started
                        size += len(chunk)
                        lines += chunk.count(b"\n")
                        tail = (tail + chunk)[-64:]
                        if fmt == "parquet":
                            out.write(chunk)
                    status = response.status_code
            except (httpx.RemoteProtocolError, httpx.ReadError) as error:
                problem = f"{type(error).__name__}: {error}"
            seconds = time.perf_counter() - started
        after = probe.rss_mb()
        if status != 200:
            return {"format": fmt, "status": status, "bytes": size, "seconds": round(seconds, 2),
                    "error": problem if status == BROKE_OFF else None,
                    "rss": {**memory_growth(baseline, sampler.samples), "after_mb": round(after, 1)}}
        rows = {"csv": lines - 1, "json": row_count(tail)}.get(fmt)
        if fmt == "parquet":
            rows = int(pq.ParquetFile(target).metadata.num_rows)
    return {"format": fmt, "status": 200, "rows": rows, "bytes": size, "seconds": round(seconds, 2),
            "first_byte_seconds": round(first_byte, 2),
            "rows_per_second": round(rows / seconds) if rows else None,
            "mb_per_second": round(size / 2**20 / seconds, 1),
            "rss": {**memory_growth(baseline, sampler.samples), "after_mb": round(after, 1)}}


async def concurrent(settings: StackSettings, headers: Mapping[str, str], report: str,
                     param_sets: Sequence[Mapping[str, str]], clients: int) -> dict[str, Any]:
    """`param_sets` requested by `clients` concurrent workers (see the module docstring)."""
    # uvicorn closes a connection idle for 5 s: the client drops it after 4, instead of reusing a closed one
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=4)
    url = report_url(settings, report)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    async with httpx.AsyncClient(verify=settings.api_verify(), timeout=TIMEOUT, limits=limits,
                                 headers=dict(headers)) as client:
        # one connection per worker, opened (TLS handshake) before the clock starts
        await asyncio.gather(*(client.get(settings.api_url("/health/live")) for _ in range(clients)))
        queue = list(reversed(param_sets))

        async def worker() -> None:
            while queue:
                params = queue.pop()
                started = time.perf_counter()
                try:
                    response = await client.get(url, params=dict(params))
                except httpx.TransportError as error:  # counted, not timed
                    statuses[type(error).__name__] += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[str(response.status_code)] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    ok = statuses.get("200", 0)
    return {"clients": clients, "requests": len(param_sets), "distinct_parameter_sets": len(set(map(_frozen,
            param_sets))), "seconds": round(wall, 2), "requests_per_second": round(len(param_sets) / wall, 1),
            "ok": ok, "statuses": dict(sorted(statuses.items())), **summary(latencies)}


def _frozen(params: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(params.items())
