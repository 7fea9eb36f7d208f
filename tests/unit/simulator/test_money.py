"""The 5% business tax on whole New Taiwan dollars, and its split over document lines."""

from __future__ import annotations

import random
from decimal import Decimal

from infra.simulator.money import split_tax, tax_of, whole


def test_tax_is_five_percent_rounded_half_up_to_the_dollar() -> None:
    assert tax_of(Decimal("1520")) == Decimal("76.00")
    assert tax_of(Decimal("10")) == Decimal("1.00")  # 0.50 rounds up
    assert tax_of(Decimal("9")) == Decimal("0.00")  # 0.45 rounds down
    assert tax_of(Decimal("30")) == Decimal("2.00")  # 1.50 rounds up (half-up, not banker's rounding)
    assert tax_of(Decimal("0")) == Decimal("0.00")
    assert whole(Decimal("2.5")) == Decimal("3.00") and whole(Decimal("3.5")) == Decimal("4.00")


def test_line_taxes_are_whole_dollars_adding_up_to_the_document_tax() -> None:
    rng = random.Random(11)
    for _ in range(500):
        lines = [
            Decimal(rng.choice((0, 1, 9, 10, 33, 230, 780, 1850, 15990))) * rng.randint(1, 20)
            for _ in range(rng.randint(1, 5))
        ]
        taxes = split_tax(lines)
        assert sum(taxes) == tax_of(sum(lines, Decimal(0)))
        assert all(t == t.to_integral_value() and t >= 0 for t in taxes)
    assert split_tax([]) == [] and split_tax([Decimal(0), Decimal(0)]) == [Decimal("0.00")] * 2
