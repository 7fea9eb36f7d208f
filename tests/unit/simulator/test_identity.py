"""Taiwanese identities: 統一編號 checksum, virtual accounts, phone numbers, addresses within Taiwan."""

from __future__ import annotations

import random
import re

import pytest

from infra.simulator.identity import (
    DISTRICTS,
    address_in,
    make_ubn,
    mobile,
    person_name,
    ubn_is_valid,
    virtual_account,
)
from infra.simulator.reference import BRANCHES


@pytest.mark.parametrize(
    ("ubn", "valid"),
    [
        ("22099131", True),  # a real company's number (weighted digit sums add up to 30)
        ("04595257", True),
        ("04595258", False),
        ("10000074", True),  # sum 15: divisible by 5 (the rule since 2023; 10 before)
        ("10000073", True),  # 7th digit 7: its 28 counts as 1 or 0 -> 14 + 1 = 15
        ("10000072", False),  # 7th digit 7, but neither 13 nor 14 is divisible by 5
        ("1045857", False),
        ("abcdefgh", False),
    ],
)
def test_unified_business_number_checksum(ubn: str, valid: bool) -> None:
    assert ubn_is_valid(ubn) is valid


def test_generated_business_numbers_are_valid_and_deterministic() -> None:
    rng_a, rng_b = random.Random(7), random.Random(7)
    first = [make_ubn(rng_a) for _ in range(50)]
    assert first == [make_ubn(rng_b) for _ in range(50)]
    assert all(ubn_is_valid(u) and len(u) == 8 for u in first)
    assert len(set(first)) == 50


def test_virtual_accounts_are_14_digits_unique_with_a_check_digit() -> None:
    accounts = [virtual_account(i) for i in range(1, 5000)]
    assert len(set(accounts)) == 4999 and all(re.fullmatch(r"[0-9]{14}", a) for a in accounts)
    changed = accounts[0][:5] + str((int(accounts[0][5]) + 1) % 10) + accounts[0][6:]
    assert changed not in accounts  # one wrong digit does not give another customer's account


def test_mobiles_and_names_look_taiwanese() -> None:
    rng = random.Random(1)
    assert all(re.fullmatch(r"09[0-9]{8}", mobile(rng)) for _ in range(100))
    names = [person_name(rng) for _ in range(100)]
    assert all(len(n) == 3 and all("\u4e00" <= ch <= "\u9fff" for ch in n) for n in names)


def test_every_branch_serves_districts_and_addresses_stay_near_them_in_taiwan() -> None:
    rng = random.Random(3)
    assert {code for code, *_ in BRANCHES} == set(DISTRICTS)
    for districts in DISTRICTS.values():
        for d in districts:
            assert re.fullmatch(r"[0-9]{3}", d.postal_code)
            for _ in range(20):
                text, lat, lon, floor = address_in(rng, d)
                assert text.startswith(d.city_zh + d.district_zh) and text.endswith("號" if floor is None else "樓")
                assert 21.8 <= lat <= 25.4 and 119.3 <= lon <= 122.1
                assert abs(lat - d.latitude) <= 0.025 and abs(lon - d.longitude) <= 0.025
