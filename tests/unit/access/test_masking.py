"""Masking of personal data: every kind, the shapes of Taiwan, odd inputs, idempotence, rows."""

from __future__ import annotations

from typing import get_args

import pytest

from api.access.masking import mask, mask_row
from api.access.policy import MaskKind

CASES: list[tuple[MaskKind, str, str]] = [
    ("phone", "0912345678", "0912-***-678"),
    ("phone", "0912-345-678", "0912-***-678"),
    ("phone", "0912 345 678", "0912-***-678"),
    ("phone", "+886 912 345 678", "0912-***-678"),
    ("phone", "+886912345678", "0912-***-678"),
    ("phone", "02-2345-6789", "02-****-6789"),
    ("phone", "(02)2345-6789", "02-****-6789"),
    ("phone", "0223456789", "02-****-6789"),
    ("phone", "+886-2-2345-6789", "02-****-6789"),
    ("phone", "02-2345-6789#123", "02-****-6789"),
    ("phone", "03-345-6789", "03-***-6789"),
    ("phone", "037-123456", "037-**-3456"),
    ("phone", "089-123456", "089-**-3456"),
    ("phone", "12345678", "***678"),
    ("phone", "12", "***"),
    ("phone", "not a number", "***"),
    ("tax_id", "12345678", "12****78"),
    ("tax_id", " 1234 5678 ", "12****78"),
    ("tax_id", "A123456789", "A1******89"),
    ("tax_id", "123", "****"),
    ("address", "台北市大安區忠孝東路四段100號", "台北市大安區***"),
    ("address", "106台北市大安區忠孝東路四段100號5樓", "台北市大安區***"),
    ("address", "10617 臺北市大安區羅斯福路四段1號", "臺北市大安區***"),
    ("address", "彰化縣彰化市中山路二段1號", "彰化縣彰化市***"),
    ("address", "新竹市東區光復路二段101號", "新竹市東區***"),
    ("address", "屏東縣三地門鄉中正路1號", "屏東縣三地門鄉***"),
    ("address", "台北市市民大道一段100號", "台北市***"),
    ("address", "1600 Amphitheatre Parkway", "***"),
    ("person_name", "王小明", "王**"),
    ("person_name", "王明", "王*"),
    ("person_name", "歐陽娜娜", "歐**"),
    ("person_name", "王", "*"),
    ("person_name", "John Smith", "J**"),
    ("email", "wang@example.com", "w***@example.com"),
    ("email", "x@y.tw", "x***@y.tw"),
    ("email", "@example.com", "***@example.com"),
    ("email", "a@b@example.com", "a***@example.com"),
    ("email", "no-at-sign", "n**"),
]


@pytest.mark.parametrize(("kind", "value", "masked"), CASES)
def test_mask(kind: MaskKind, value: str, masked: str) -> None:
    assert mask(kind, value) == masked


@pytest.mark.parametrize(("kind", "value", "masked"), CASES)
def test_masking_twice_changes_nothing(kind: MaskKind, value: str, masked: str) -> None:
    assert mask(kind, masked) == masked


@pytest.mark.parametrize("kind", get_args(MaskKind))
def test_none_and_blank_stay(kind: MaskKind) -> None:
    assert mask(kind, None) is None
    assert mask(kind, "") == ""
    assert mask(kind, "   ") == "   "


@pytest.mark.parametrize("kind", get_args(MaskKind))
def test_the_hidden_part_never_leaks(kind: MaskKind) -> None:
    for value in ("0912345678", "12345678", "台北市大安區忠孝東路四段100號", "王小明", "wang@example.com", "x" * 500):
        masked = mask(kind, value)
        assert masked is not None and masked != value
        assert "345" not in masked, (kind, value, masked)
        assert "忠孝" not in masked and "小明" not in masked and "wang" not in masked


def test_mask_row_masks_only_the_kinds_asked_and_copies() -> None:
    row = {"id": 1, "name_zh": "王小明", "mobile": "0912345678", "tax_id": 12345678, "address_zh": None}
    columns: dict[str, MaskKind] = {"name_zh": "person_name", "mobile": "phone", "tax_id": "tax_id",
                                    "address_zh": "address", "missing": "email"}
    assert mask_row(row, columns, frozenset({"phone", "tax_id", "address", "email"})) == {
        "id": 1, "name_zh": "王小明", "mobile": "0912-***-678", "tax_id": "12****78", "address_zh": None}
    assert row["mobile"] == "0912345678"  # the input row is not changed
    assert mask_row(row, columns, frozenset()) == row
