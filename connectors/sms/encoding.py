"""SMS character encoding, length counting and segmentation (pure functions).

Contract:
- A text is GSM-7 when every character is in the GSM 03.38 default alphabet or its extension table;
  one other character (any CJK character, an emoji, a curly quote) makes the WHOLE message UCS-2.
- GSM-7 counts septets: basic characters 1, extension characters (^ { } [ ] ~ | \\ € and form feed) 2
  because they travel as ESC + char. Limits: 160 in a single SMS, 153 per part when concatenated.
- UCS-2 counts UTF-16 code units: characters outside the BMP (most emoji, rare CJK extension B) are a
  surrogate pair and count 2. Limits: 70 single, 67 per part.
- `split_segments` cuts on character boundaries only, so it never splits a surrogate pair nor an
  ESC + extension pair; every part stays within the per-part limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# GSM 03.38 default alphabet (without 0x1B, the escape to the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (ESC + code).
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE_LIMIT = 160
GSM7_PART_LIMIT = 153
UCS2_SINGLE_LIMIT = 70
UCS2_PART_LIMIT = 67


class Encoding(StrEnum):
    """The data coding an SMS travels in."""

    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SmsLength:
    """How long a text is as an SMS: its encoding, units (septets or UTF-16 units) and segment count."""

    encoding: Encoding
    units: int
    segments: int

    @property
    def single_limit(self) -> int:
        return GSM7_SINGLE_LIMIT if self.encoding is Encoding.GSM7 else UCS2_SINGLE_LIMIT

    @property
    def part_limit(self) -> int:
        return GSM7_PART_LIMIT if self.encoding is Encoding.GSM7 else UCS2_PART_LIMIT


def is_gsm7(text: str) -> bool:
    """True when every character of `text` can be sent in GSM-7 (basic or extension table)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def detect_encoding(text: str) -> Encoding:
    """GSM-7 when possible; otherwise UCS-2 for the whole message."""
    return Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2


def char_units(ch: str, encoding: Encoding) -> int:
    """Units one character costs: GSM-7 septets (2 for extension chars) or UTF-16 code units (2 off the BMP)."""
    if encoding is Encoding.GSM7:
        if ch in GSM7_BASIC:
            return 1
        if ch in GSM7_EXTENSION:
            return 2
        raise ValueError(f"character {ch!r} (U+{ord(ch):04X}) is not in the GSM-7 alphabet")
    return 2 if ord(ch) > 0xFFFF else 1


def count_units(text: str, encoding: Encoding | None = None) -> int:
    """Total units of `text` in `encoding` (detected when None). Raises ValueError for a non-GSM char in GSM-7."""
    enc = detect_encoding(text) if encoding is None else encoding
    return sum(char_units(ch, enc) for ch in text)


def segments_for(units: int, encoding: Encoding) -> int:
    """How many SMS parts `units` need: 1 up to the single limit, else ceil(units / per-part limit)."""
    single, part = (
        (GSM7_SINGLE_LIMIT, GSM7_PART_LIMIT) if encoding is Encoding.GSM7 else (UCS2_SINGLE_LIMIT, UCS2_PART_LIMIT)
    )
    if units <= single:
        return 1
    return -(-units // part)


def measure(text: str) -> SmsLength:
    """Encoding, units and segment count of `text` (an empty text is one empty segment)."""
    encoding = detect_encoding(text)
    units = count_units(text, encoding)
    return SmsLength(encoding=encoding, units=units, segments=segments_for(units, encoding))


def split_segments(text: str) -> list[str]:
    """The parts `text` is sent as: `[text]` when it fits one SMS, else greedy parts of at most the
    per-part limit, cut only between characters (never inside a surrogate pair or an ESC pair).

    Joining the parts gives back `text` exactly.
    """
    length = measure(text)
    if length.segments == 1:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in _characters(text):
        cost = sum(char_units(c, length.encoding) for c in ch)
        if used + cost > length.part_limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += cost
    if current:
        parts.append("".join(current))
    return parts


def _characters(text: str) -> list[str]:
    """`text` cut into characters, keeping a high + low surrogate code point pair (a Python str built with
    'surrogatepass' can hold one) together as one character."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if 0xD800 <= ord(text[i]) <= 0xDBFF and i + 1 < len(text) and 0xDC00 <= ord(text[i + 1]) <= 0xDFFF:
            out.append(text[i : i + 2])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return out


def utf16_units(text: str) -> int:
    """UTF-16 code units of `text` (what a Java/JS `length` would say); equals UCS-2 units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2
