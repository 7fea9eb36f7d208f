"""Timing script: MT940 statements parsed + validated per second (not a test; prints one figure per case).

Run: `python -m connectors.bank.measure_throughput [--statements 2000] [--lines 5]`.
Builds one file of N statements (each with L :61:/:86: pairs, Chinese details, TWD amounts) in UTF-8
and in Big5, and times `read_statement_file` (decode, framing, tag and field checks, :86: sub-fields,
rules, balance, page chains) on it, best of three runs.
"""

from __future__ import annotations

import argparse
import time

from connectors.bank.importer import read_statement_file
from connectors.bank.validate import StatementRules


def _statement(index: int, lines: int) -> str:
    body = [f":20:PERF{index:08d}", ":25:0081234567890", f":28C:{index % 100000:05d}/001", ":60F:C260113TWD100000,"]
    for line in range(lines):
        body.append(f":61:2601140114C{1000 + line},NTRFVA{index % 10**14:014d}//BK{line:04d}")
        body.append(f":86:大同瓦斯行 虛擬帳號 {index % 10**14:014d} 一月貨款 第{line}筆")
    closing = 100000 + sum(1000 + line for line in range(lines))
    body.append(f":62F:C260114TWD{closing},")
    return "\n".join(body) + "\n-\n"


def measure(statements: int, lines: int, encoding: str, repeats: int = 3) -> tuple[float, float]:
    """(statements per second, transactions per second) for one file, best of `repeats`."""
    data = "".join(_statement(i, lines) for i in range(statements)).encode(encoding)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        imported = read_statement_file("perf.sta", data, StatementRules())
        best = min(best, time.perf_counter() - start)
        if len(imported.statements) != statements:
            raise AssertionError("statement count changed")
    return statements / best, statements * lines / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=5)
    args = parser.parse_args()
    for encoding in ("utf-8", "big5"):
        per_s, tx_per_s = measure(args.statements, args.lines, encoding)
        print(f"{encoding:6} {args.statements} statements x {args.lines} lines: "
              f"{per_s:,.0f} statements/s, {tx_per_s:,.0f} transactions/s")


if __name__ == "__main__":
    main()
