"""GSM-7 / UCS-2 detection, unit counting and segment splitting."""

from __future__ import annotations

import pytest

from connectors.sms.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    Encoding,
    count_units,
    detect_encoding,
    measure,
    segments_for,
    split_segments,
    utf16_units,
)

EMOJI = "\U0001f525"  # 🔥, outside the BMP: a surrogate pair in UTF-16


def test_plain_ascii_is_gsm7_one_unit_per_char() -> None:
    length = measure("Gas level low at depot 3")
    assert length == measure("Gas level low at depot 3")
    assert (length.encoding, length.units, length.segments) == (Encoding.GSM7, 24, 1)


def test_gsm7_basic_alphabet_has_the_128_minus_escape_characters() -> None:
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10


@pytest.mark.parametrize("ch", sorted(GSM7_EXTENSION))
def test_extension_characters_count_two(ch: str) -> None:
    assert count_units(f"a{ch}b") == 4
    assert detect_encoding(ch) is Encoding.GSM7


def test_one_cjk_character_makes_the_whole_message_ucs2() -> None:
    text = "A" * 100 + "瓦"
    length = measure(text)
    assert length.encoding is Encoding.UCS2
    assert length.units == 101
    assert length.segments == 2  # 101 > 70 -> ceil(101 / 67)


def test_non_gsm_latin_character_also_forces_ucs2() -> None:
    assert detect_encoding("price \u2019quoted\u2019") is Encoding.UCS2
    assert detect_encoding("café") is Encoding.GSM7  # é is in the GSM alphabet
    assert detect_encoding("ç") is Encoding.UCS2  # only capital Ç is


@pytest.mark.parametrize(
    ("units", "encoding", "segments"),
    [
        (0, Encoding.GSM7, 1),
        (160, Encoding.GSM7, 1),
        (161, Encoding.GSM7, 2),
        (306, Encoding.GSM7, 2),
        (307, Encoding.GSM7, 3),
        (70, Encoding.UCS2, 1),
        (71, Encoding.UCS2, 2),
        (134, Encoding.UCS2, 2),
        (135, Encoding.UCS2, 3),
    ],
)
def test_segment_boundaries(units: int, encoding: Encoding, segments: int) -> None:
    assert segments_for(units, encoding) == segments


def test_gsm7_single_limit_counts_extension_chars_double() -> None:
    assert measure("a" * 160).segments == 1
    assert measure("a" * 159 + "€").segments == 2  # 161 septets


def test_non_bmp_characters_count_two_utf16_units() -> None:
    text = "瓦斯" + EMOJI
    assert count_units(text) == 4 == utf16_units(text)
    assert measure("瓦" * 68 + EMOJI).segments == 1  # exactly 70 units
    assert measure("瓦" * 69 + EMOJI).segments == 2  # 71 units


def test_short_text_is_one_part() -> None:
    assert split_segments("幸運瓦斯") == ["幸運瓦斯"]


def test_ucs2_split_respects_67_units_and_rejoins() -> None:
    text = "瓦" * 150
    parts = split_segments(text)
    assert [len(p) for p in parts] == [67, 67, 16]
    assert "".join(parts) == text


def test_split_never_cuts_a_surrogate_pair() -> None:
    # 66 BMP chars then an emoji: the emoji would need units 67-68, so it must move to part 2 whole.
    text = "瓦" * 66 + EMOJI + "斯" * 10
    parts = split_segments(text)
    assert parts[0] == "瓦" * 66
    assert parts[1].startswith(EMOJI)
    for part in parts:
        assert utf16_units(part) <= 67
        part.encode("utf-16-le")  # raises on a lone surrogate
    assert "".join(parts) == text


def test_split_keeps_surrogate_code_point_pairs_together() -> None:
    # A str decoded with 'surrogatepass' can hold the two halves as separate code points.
    pair = EMOJI.encode("utf-16-le").decode("utf-16-le", "surrogatepass")
    halves = "\ud83d\udd25"
    assert len(halves) == 2 and pair == EMOJI
    text = "瓦" * 66 + halves + "斯" * 10
    parts = split_segments(text)
    assert parts[0] == "瓦" * 66
    assert parts[1].startswith(halves)


def test_gsm7_split_never_cuts_an_escape_pair() -> None:
    text = "a" * 152 + "€" + "b" * 20  # € would need septets 153-154
    parts = split_segments(text)
    assert parts[0] == "a" * 152
    assert parts[1].startswith("€")
    assert all(count_units(p, Encoding.GSM7) <= 153 for p in parts)
    assert "".join(parts) == text


def test_count_units_in_gsm7_refuses_non_gsm_character() -> None:
    with pytest.raises(ValueError, match="not in the GSM-7 alphabet"):
        count_units("瓦", Encoding.GSM7)
