"""Field types for rows as Debezium's JsonConverter writes them (schemas disabled).

Wire forms we accept, per PostgreSQL type:
- numeric      -> a decimal string ("1234.50"; decimal.handling.mode=string)  -> `Decimal`
- date         -> days since 1970-01-01 as an integer (io.debezium.time.Date)  -> `PgDate`
                  (an ISO "YYYY-MM-DD" string is accepted too, for rows read from the database by tests)
- timestamptz  -> an ISO-8601 string in UTC ("2026-01-15T02:03:04.123456Z")    -> `PgTimestamp` (aware)
- char(n)      -> a string padded to n; our char columns are always full length
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict

EPOCH_DAY = date(1970, 1, 1)


def _date_from_wire(value: Any) -> Any:
    # Debezium sends a date as an int (days); pydantic alone would read an int as unix *seconds*.
    if isinstance(value, bool):
        raise ValueError("a date cannot be a boolean")
    if isinstance(value, int):
        return EPOCH_DAY + timedelta(days=value)
    return value


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone")
    return value.astimezone(UTC)


PgDate = Annotated[date, BeforeValidator(_date_from_wire)]
PgTimestamp = Annotated[datetime, AfterValidator(_require_aware)]
Money = Decimal

ROW_CONFIG = ConfigDict(frozen=True, extra="forbid", strict=False)


def date_to_wire(value: date) -> int:
    """The inverse of PgDate's wire form: days since 1970-01-01."""
    return (value - EPOCH_DAY).days
