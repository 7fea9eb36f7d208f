"""ISO 4217 currency codes and their minor units, from the `iso4217` package (the ISO table it ships).

`minor_units("TWD") == 2`, `minor_units("JPY") == 0`, `minor_units("KWD") == 3`. A code that is not an
ISO 4217 currency, or one without minor units (gold XAU, SDR XDR, "no currency" XXX: no bank statement
amount can be checked against them), raises `UnknownCurrency`.
"""

from __future__ import annotations

from functools import lru_cache

from iso4217 import Currency


class UnknownCurrency(ValueError):
    """Not an ISO 4217 currency code with a defined number of decimals."""


@lru_cache(maxsize=512)
def minor_units(code: str) -> int:
    """The number of decimals ISO 4217 gives `code` (upper-case alphabetic code, e.g. "TWD")."""
    try:
        exponent = Currency(code).exponent
    except ValueError as exc:
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency code") from exc
    if exponent is None:
        raise UnknownCurrency(f"{code!r} has no minor units in ISO 4217")
    return exponent
