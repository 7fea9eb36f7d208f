"""Upstream schema drift: columns the legacy team adds to, removes from or retypes in a captured table.

Contract:
- `added_columns(errors)` says whether a failed validation is nothing but added columns (every error an
  `extra_forbidden` directly inside `before`/`after`); the decoder then re-validates with
  `lenient_row_model(model)`, a subclass of the row model that ignores unknown columns, so the engine gets
  an instance of (a subclass of) the model it knows and the added values are dropped.
- `column_problems(errors)`, when a failed validation is only about row columns, names each column: missing
  ("removed upstream?"), of the wrong type ("retyped upstream?"), a value outside a known set ("a new value
  upstream?") or added (only beside another problem: a renamed column shows as one missing, one added).
- `TableDrift` / `TableBreakage` are the per-table records the decoder keeps; `to_json()` gives a plain dict
  for a status file or /health. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, ConfigDict
from pydantic_core import ErrorDetails

ROW_IMAGES = ("before", "after")
_MAX_INPUT_CHARS = 40


def lenient_row_model(model: type[BaseModel]) -> type[BaseModel]:
    """A subclass of `model` that ignores columns it does not know (everything else is inherited).

    Same name and module as `model`, so error messages and reprs read the same.
    """
    config = ConfigDict(**{**model.model_config, "extra": "ignore"})
    namespace = {"model_config": config, "__module__": model.__module__, "__qualname__": model.__qualname__,
                 "__doc__": model.__doc__}
    return cast(type[BaseModel], type(model.__name__, (model,), namespace))


def _column(item: ErrorDetails) -> str | None:
    loc = item["loc"]
    if len(loc) >= 2 and loc[0] in ROW_IMAGES and isinstance(loc[1], str):
        return loc[1]
    return None


def added_columns(errors: Sequence[ErrorDetails]) -> set[str] | None:
    """The added column names when every error is an unknown column of a row image; None otherwise."""
    columns: set[str] = set()
    for item in errors:
        column = _column(item)
        if column is None or item["type"] != "extra_forbidden" or len(item["loc"]) != 2:
            return None
        columns.add(column)
    return columns or None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_INPUT_CHARS else text[: _MAX_INPUT_CHARS - 1] + "…"


def _expected(item: ErrorDetails) -> str:
    msg = item["msg"]
    ctx = item.get("ctx") or {}
    if item["type"] == "literal_error" and "expected" in ctx:
        return f"expected one of {ctx['expected']}"
    if msg.startswith("Input should be "):
        expected = msg.removeprefix("Input should be ")
        # "a valid integer, unable to parse string as an integer": the part before the comma says it all.
        return "expected " + (expected.split(", ", 1)[0] if expected.startswith("a valid ") else expected)
    return msg.removeprefix("Value error, ")


def _describe(column: str, item: ErrorDetails) -> str:
    kind = item["type"]
    if kind == "missing":
        return f"column `{column}` is missing (removed upstream?)"
    if kind == "extra_forbidden":
        return f"column `{column}` is not in the model (added upstream)"
    hint = "a new value upstream?" if kind in ("literal_error", "enum") else "retyped upstream?"
    where = ".".join(str(p) for p in item["loc"])
    return f"column `{column}`: {_expected(item)}, got {_shown(item['input'])} ({hint}) at {where}"


def column_problems(errors: Sequence[ErrorDetails]) -> tuple[list[str], set[str]] | None:
    """When every error is about a column of a row image: one description per (column, problem) — a column
    missing from both images is said once — and the columns concerned. None when anything else is wrong
    too (no source, a bad op, a row that is not an object): then the record is not a drifted change but a
    broken one, and the generic reason says more."""
    seen: set[tuple[str, str]] = set()
    reasons: list[str] = []
    for item in errors:
        column = _column(item)
        if column is None:
            return None
        if (column, item["type"]) in seen:
            continue
        seen.add((column, item["type"]))
        reasons.append(_describe(column, item))
    return reasons, {column for column, _ in seen}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass
class TableDrift:
    """Columns a table gained upstream, and how many records carried them (their values were ignored)."""

    table: str
    added_columns: set[str] = field(default_factory=set)
    records: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    def record(self, columns: Iterable[str], at: datetime) -> set[str]:
        """Count one decoded record carrying `columns`; returns the columns not seen before."""
        new = set(columns) - self.added_columns
        self.added_columns |= new
        self.records += 1
        self.first_seen = self.first_seen or at
        self.last_seen = at
        return new

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "added_columns": sorted(self.added_columns), "records": self.records,
                "first_seen": _iso(self.first_seen), "last_seen": _iso(self.last_seen)}


@dataclass
class TableBreakage:
    """Records of a table rejected because a column is missing or retyped (they went to the dead letters)."""

    table: str
    count: int = 0
    last_reason: str = ""
    columns: set[str] = field(default_factory=set)
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    def record(self, reason: str, columns: Iterable[str], at: datetime) -> None:
        self.count += 1
        self.last_reason = reason
        self.columns |= set(columns)
        self.first_seen = self.first_seen or at
        self.last_seen = at

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "count": self.count, "last_reason": self.last_reason,
                "columns": sorted(self.columns), "first_seen": _iso(self.first_seen),
                "last_seen": _iso(self.last_seen)}
