"""TWD amounts and the 5% business tax (營業稅).

Rule (as on Taiwanese e-invoices): amounts are whole New Taiwan dollars; the tax of a document is
5% of its pre-tax total rounded half-up to the dollar, and line taxes are that total split over the lines
in proportion (the last line takes the remainder), so the lines always add up to the document.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

TAX_RATE = Decimal("0.05")
CENT = Decimal("0.01")


def whole(amount: Decimal) -> Decimal:
    """Round half-up to the dollar, kept with two decimals as the database stores it."""
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP).quantize(CENT)


def tax_of(pre_tax: Decimal) -> Decimal:
    return whole(pre_tax * TAX_RATE)


def split_tax(line_amounts: list[Decimal]) -> list[Decimal]:
    """Line taxes that add up exactly to the tax of the total."""
    total = sum(line_amounts, Decimal(0))
    document_tax = tax_of(total)
    if not line_amounts:
        return []
    if total == 0:
        return [Decimal("0.00")] * len(line_amounts)
    taxes = [whole(document_tax * amount / total) for amount in line_amounts[:-1]]
    taxes.append((document_tax - sum(taxes, Decimal(0))).quantize(CENT))
    return taxes
