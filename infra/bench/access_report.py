"""The access benchmark's pure parts: latency summaries, added cost, the alternation of variants and the
README table (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from infra.bench.latency import percentile

T = TypeVar("T")


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    """Count, p50/p95/p99 (nearest rank), mean and max of latencies in ms."""
    values = list(values)
    return {"requests": len(values), "p50_ms": round(percentile(values, 50), 2),
            "p95_ms": round(percentile(values, 95), 2), "p99_ms": round(percentile(values, 99), 2),
            "mean_ms": round(sum(values) / len(values), 2) if values else float("nan"),
            "max_ms": round(max(values, default=float("nan")), 2)}


def added_cost(with_: dict[str, Any], without: dict[str, Any]) -> dict[str, float]:
    """What the first adds to the second, at p50, p95 and p99 (ms)."""
    return {f"{q}_ms": round(with_[f"{q}_ms"] - without[f"{q}_ms"], 2) for q in ("p50", "p95", "p99")}


def rotated(items: Sequence[T], shift: int) -> list[T]:
    """`items` starting at position `shift` (mod len), wrapping round: each round starts with another."""
    if not items:
        return []
    k = shift % len(items)
    return [*items[k:], *items[:k]]


# ---------------------------------------------------------------- the README table


def _quantiles(s: dict[str, Any]) -> str:
    return f"p50 {s['p50_ms']} / p95 {s['p95_ms']} / p99 {s['p99_ms']} ms"


def _added(d: dict[str, float]) -> str:
    return f"**p50 {d['p50_ms']:+} ms, p99 {d['p99_ms']:+} ms**"


def access_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    kpis, audit, parts = r["kpis"], r["audit"], r["parts_ms"]
    branch = r["users"]["branch_manager"]["branch"]
    same = kpis["same"]
    rows = [("stack", f"{r['backfill']['rows']:,} rows, {r['backfill']['days']} days of history + "
                      f"{r['today_live_changes']:,} live changes today, streamed into ClickHouse; the API process "
                      "(`python -m api`, HTTPS) with its PostgreSQL audit trail and Redis limits"),
            ("without access control",
             "`infra/bench/access_app.py`: the product's route function (same SQL) with a fixed scope, no token, "
             "audit or rate limit; same uvicorn options, TLS certificate and client. Same figures as with a token: "
             f"head office {'yes' if same['head_office'] else 'NO'}, branch {branch} "
             f"{'yes' if same['branch_manager'] else 'NO'}")]
    pairs = (("head office token", "with_head_office", "without_all_branches"),
             (f"branch manager token ({branch})", "with_branch_manager", "without_one_branch"))
    for mode, label in (("sequential", "1 client, sequential"),
                        (next(k for k in kpis if k.startswith("concurrent_")), "8 concurrent requests")):
        runs = kpis[mode]
        for who, with_, without in pairs:
            w, wo = runs[with_], runs[without]
            rate = (f"; {w['requests_per_second']} vs {wo['requests_per_second']} requests/s"
                    if mode != "sequential" else "")
            cpu = (f"; server CPU {w['server_cpu_ms_per_request']} vs {wo['server_cpu_ms_per_request']} ms per request"
                   if "server_cpu_ms_per_request" in w else "")
            rows.append((f"GET /kpis/today, {label}, {w['requests']:,} each: {who} / without",
                         f"{_quantiles(w)} / {_quantiles(wo)}; added {_added(added_cost(w, wo))}{rate}{cpu}"))
    seq = kpis["sequential"]
    machine = [(label, kpis[mode].get("machine")) for mode, label in
               (("sequential", "sequential"), (next(k for k in kpis if k.startswith("concurrent_")), "concurrent"))]
    if all(m for _, m in machine):
        rows.append(("the shared machine while they ran (CPU busy, 1-min load average)",
                     "; ".join(f"{label}: {m['cpu_percent']}%, load {m['load_average_1m']}" for label, m in machine)))
    rows.append((f"the branch filter's SQL alone (without: branch {branch} vs all branches, sequential)",
                 f"p50 {added_cost(seq['without_one_branch'], seq['without_all_branches'])['p50_ms']:+} ms, "
                 f"p99 {added_cost(seq['without_one_branch'], seq['without_all_branches'])['p99_ms']:+} ms"))
    one, many = audit["sequential"], next(v for k, v in audit.items() if k.startswith("concurrent_"))
    rows.append(("parts alone, p50 / p99: ES256 token verification; rate-limit check (Redis, 600/minute)",
                 f"{parts['token_verification']['p50_ms']} / {parts['token_verification']['p99_ms']} ms; "
                 f"{parts['rate_limit_check']['p50_ms']} / {parts['rate_limit_check']['p99_ms']} ms"))
    rows.append((f"audit records appended (PostgresAuditLog, hash chain, fsync on), {one['records']:,} each: "
                 f"1 appender / {many['appenders']} concurrent",
                 f"{one['records_per_second']:,} / {many['records_per_second']:,} records/s (append p50 "
                 f"{one['append_p50_ms']} / {many['append_p50_ms']} ms, p99 {one['append_p99_ms']} / "
                 f"{many['append_p99_ms']} ms; {many['records_per_commit']} records per commit)"))
    verify = audit["verify"]
    rows.append(("audit chain verified (the `make audit-verify` logic) after the run",
                 f"{'OK' if verify['ok'] else 'BROKEN'}: {verify['checked']:,} records in {verify['seconds']} s "
                 f"({verify['records_per_second']:,} records/s)"))
    return rows
