"""TWD amounts and the 5% business tax (營業稅).

Rule (as on Taiwanese e-invoices, which carry whole New Taiwan dollars): the tax of a document is 5% of
its pre-tax total rounded half-up to the dollar (0.50 goes up; not banker's rounding). Line taxes split
that document tax over the lines in proportion to their amounts by the largest-remainder method: each line
gets the whole dollars of its share, the dollars left go to the largest fractions (earlier lines first on
ties). So line taxes are whole, never negative, and always add up to the document's tax.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

TAX_RATE = Decimal("0.05")
CENT = Decimal("0.01")


def whole(amount: Decimal) -> Decimal:
    """Round half-up to the dollar, kept with two decimals as the database stores it."""
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP).quantize(CENT)


def tax_of(pre_tax: Decimal) -> Decimal:
    """The business tax of a document whose lines add up to `pre_tax`."""
    return whole(pre_tax * TAX_RATE)


def split_tax(line_amounts: list[Decimal]) -> list[Decimal]:
    """Line taxes (whole dollars, >= 0) that add up exactly to the tax of the lines' total."""
    total = sum(line_amounts, Decimal(0))
    if total <= 0:
        return [Decimal("0.00")] * len(line_amounts)
    document_tax = int(tax_of(total))
    shares = [document_tax * amount / total for amount in line_amounts]
    floors = [int(s.to_integral_value(rounding=ROUND_FLOOR)) for s in shares]
    left = document_tax - sum(floors)
    by_fraction = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in by_fraction[:left]:
        floors[i] += 1
    return [Decimal(f).quantize(CENT) for f in floors]
