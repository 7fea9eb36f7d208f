"""Structured :86: sub-fields (GVC "?NN" and SWIFT "/KEY/"), written from the banks' format descriptions."""

from __future__ import annotations

import pytest

from connectors.bank.details import detail_fields


def test_gvc_example_from_the_format() -> None:
    text = "166?00GUTSCHRIFT?20EREF+TX123?21SVWZ+Rechnung 7?30BLZ?31ACCT?32NAME"
    assert detail_fields(text) == (
        ("GVC", "166"), ("?00", "GUTSCHRIFT"), ("?20", "EREF+TX123"), ("?21", "SVWZ+Rechnung 7"),
        ("?30", "BLZ"), ("?31", "ACCT"), ("?32", "NAME"), ("EREF", "TX123"), ("SVWZ", "Rechnung 7"),
    )


def test_gvc_sepa_keywords_inside_one_purpose_line_and_across_lines() -> None:
    text = "105?00SEPA-LASTSCHRIFT?20EREF+E1 MREF+M-77 CRED+DE98ZZZ09999999999?21SVWZ+Gas Jan?22uar ABWA+Lucky\n?23 Gas"
    fields = dict(detail_fields(text))
    assert (fields["EREF"], fields["MREF"], fields["CRED"]) == ("E1", "M-77", "DE98ZZZ09999999999")
    assert (fields["SVWZ"], fields["ABWA"]) == ("Gas Januar", "Lucky Gas")
    assert fields["GVC"] == "105" and "KREF" not in fields


def test_gvc_purpose_without_keywords_gives_only_the_subfields() -> None:
    assert detail_fields("020?00ABSCHLUSS?20Entgelt Kontofuehrung") == (
        ("GVC", "020"), ("?00", "ABSCHLUSS"), ("?20", "Entgelt Kontofuehrung"),
    )


def test_swift_style_values_may_contain_slashes() -> None:
    ing = "/CNTP/NL91ABNA0417164300/ABNANL2A/Lucky Gas BV///REMI/USTD//Factuur 2026/0042/\n/EREF/NOTPROVIDED"
    assert detail_fields(ing) == (
        ("CNTP", "NL91ABNA0417164300/ABNANL2A/Lucky Gas BV//"), ("REMI", "USTD//Factuur 2026/0042/"),
        ("EREF", "NOTPROVIDED"),
    )
    assert detail_fields("/BIC//NAME/x/") == (("BIC", ""), ("NAME", "x"))


@pytest.mark.parametrize(
    "text",
    ["大同瓦斯行 虛擬帳號 12345678901234 一月貨款", "", "/不是結構/", "/ABC/DEF/", "166 Gutschrift", "12?00X", "跨行手續費"],
)
def test_free_text_has_no_structured_fields(text: str) -> None:
    assert detail_fields(text) == ()
