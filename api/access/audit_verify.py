"""`python -m api.access.audit_verify`: check the audit trail's hash chain; name the first broken record.

    python -m api.access.audit_verify [--dsn DSN] [--expect SEQ:HASH] [--purge]

Reads every record of PostgreSQL schema `audit` in seq order in one snapshot and recomputes each hash.
Exit status 0: the chain is intact (prints how many records and the head's seq and hash — keep that line
somewhere else, e.g. a ticket: `--expect SEQ:HASH` later proves that record is still there unchanged, which
also catches records cut off the end); 1: broken (prints the first broken record and why); 2: the store
cannot be read. `--purge` first removes records older than the retention (the settings' years, default 7),
anchoring the chain; it needs the schema owner's DSN (the default DSN is the configured database's owner).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import psycopg

from api.access.audit_chain import VerifyResult, utc_text
from api.access.audit_pg import purge_expired, verify_store
from infra.access_settings import AuditSettings
from infra.clock import SystemClock
from infra.settings import get_settings


def _check_expected(dsn: str, expected: str) -> str | None:
    """None when record SEQ still has HASH, else what is wrong."""
    seq_text, _, digest = expected.partition(":")
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT hash FROM audit.events WHERE seq = %s", (int(seq_text),)).fetchone()
        anchored = conn.execute("SELECT 1 FROM audit.anchors WHERE first_seq > %s", (int(seq_text),)).fetchone()
    if row is None:
        return None if anchored else f"record seq={seq_text} is missing (and no purge removed it)"
    return None if row[0] == digest else f"record seq={seq_text} has hash {row[0]}, expected {digest}"


def report(result: VerifyResult) -> str:
    if result.ok:
        if result.head_seq is None:
            return "OK: the audit trail is empty"
        return f"OK: {result.checked} records verified; head seq={result.head_seq} hash={result.head_hash}"
    return f"BROKEN at seq={result.broken_seq}: {result.reason} ({result.checked} records read)"


async def run(dsn: str, expect: str | None, purge: bool, retention_years: int) -> int:
    if purge:
        purged = await purge_expired(dsn, retention_years, SystemClock().now())
        print(f"purged {purged.removed} records older than {utc_text(purged.cutoff)}"
              + (f"; chain anchored at seq={purged.anchor.first_seq}" if purged.anchor else ""))
    result = await verify_store(dsn)
    print(report(result))
    if not result.ok:
        return 1
    if expect:
        problem = await asyncio.to_thread(_check_expected, dsn, expect)
        if problem:
            print(f"BROKEN: {problem}")
            return 1
        print(f"OK: record {expect.partition(':')[0]} matches the expected hash")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="verify the audit trail's hash chain")
    parser.add_argument("--dsn", help="libpq DSN (default: the configured operational database)")
    parser.add_argument("--expect", metavar="SEQ:HASH", help="a head printed earlier that must still be there")
    parser.add_argument("--purge", action="store_true", help="first remove records older than the retention")
    parser.add_argument("--retention-years", type=int, default=None,
                        help="default: the settings' audit.retention_years (7)")
    args = parser.parse_args(argv)
    if args.expect and not (":" in args.expect and args.expect.partition(":")[0].isdigit()):
        parser.error("--expect takes SEQ:HASH as printed by a previous run")
    settings = get_settings()
    dsn = args.dsn or settings.postgres.dsn()
    audit_settings = getattr(settings, "audit", None) or AuditSettings()
    years = args.retention_years if args.retention_years is not None else audit_settings.retention_years
    try:
        return asyncio.run(run(dsn, args.expect, args.purge, years))
    except (psycopg.Error, OSError) as error:
        print(f"cannot read the audit trail: {type(error).__name__}: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
