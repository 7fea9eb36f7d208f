"""The truth of every report: an independent PostgreSQL query per report, and the parameters to check it with.

Contract: `TRUTHS[report_id]` is a `Truth`: `sql` is a PostgreSQL query over the operational tables returning
the report's columns in order, with `%(name)s` for each report parameter's parsed value, `%(branches)s` (NULL
for all branches, else a text[] of branch codes: write `(%(branches)s::text[] IS NULL OR x = ANY(%(branches)s))`)
and `%(today)s` (the Asia/Taipei business day); `cases` are query strings to run the report with (`{}`: its
defaults). Written from the spec and the schema, never from the report's ClickHouse SQL, so that
`python -m infra.verify --reports` compares two implementations. One module per library module.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType, ModuleType

from infra.settings import StackSettings

MODULES = ("w100_customers", "w200_sales", "w200_tracking", "w110_master", "w300_inventory", "w500_receivables",
           "w500_tax", "w600_accounting", "w600_management", "w700_dispatch", "bank")


@dataclass(frozen=True, slots=True)
class Truth:
    sql: str
    cases: tuple[Mapping[str, str], ...] = field(default=({},))


def truths(settings: StackSettings | None = None) -> Mapping[str, Truth]:
    """Every report's truth, by report id; a module whose truths depend on the stack (the bank's statement
    files) builds them for `settings` through its `truths_for(settings)`."""
    if settings is None:
        return _default_truths()
    found: dict[str, Truth] = {}
    for module in _modules():
        builder = getattr(module, "truths_for", None)
        found.update(builder(settings) if builder is not None else module.TRUTHS)
    return MappingProxyType(found)


@lru_cache(maxsize=1)
def _default_truths() -> Mapping[str, Truth]:
    found: dict[str, Truth] = {}
    for module in _modules():
        found.update(module.TRUTHS)
    return MappingProxyType(found)


def _modules() -> list[ModuleType]:
    found: list[ModuleType] = []
    for name in MODULES:
        try:
            module = importlib.import_module(f"infra.verify.report_truth.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"infra.verify.report_truth.{name}":
                raise
            continue
        found.append(module)
    return found
