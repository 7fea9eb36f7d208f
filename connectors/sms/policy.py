"""Content rules every outgoing SMS must pass (pure functions).

Contract: `check_content(text, allowed_domain)` returns None or raises `ContentRefused` listing every
link whose host is not exactly `allowed_domain` and every phone number. Why: since 2024-11-18 Taiwan's NCC
rules make carriers drop SMS carrying URLs, short URLs or phone numbers that were not registered in advance;
a dropped alert is worse than a refused one. Detection runs on the NFKC form of the text, so full-width
look-alikes (ｅｖｉｌ．ｃｏｍ, ０９１２…) are caught too.

What counts as a link: anything with a scheme (http://, https://, ftp://…), anything starting with www.,
and bare host names `label.label.tld` whose last label is 2+ letters, also inside e-mail addresses and glued
to Chinese text (so `report.pdf` counts too: carrier filters are as coarse, and a clear refusal beats a
silent drop).
What counts as a phone number: a Taiwan number starting 0 or +886 with 8 to 10 further digits (spaces,
dashes, dots or parentheses between them allowed), or any +country number of 8+ digits, not glued to other
digits (order numbers like A20260115-0012 are not phone numbers).
`check_recipient` accepts only Taiwan mobiles in E.164 form: +8869 followed by 8 digits.
"""

from __future__ import annotations

import re
import unicodedata

from connectors.sms.errors import ContentRefused, EmptyMessage, InvalidRecipient, PolicyFinding

TAIWAN_MOBILE_RE = re.compile(r"^\+8869\d{8}$")

_SCHEME_URL_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s<>\"'，。、；：！？）】」]+", re.IGNORECASE)
_HOST_RE = re.compile(
    r"(?<![A-Za-z0-9.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})(?![A-Za-z0-9-])(/[^\s，。、；：！？）】」]*)?",
    re.IGNORECASE,
)
_SEP = r"[\s.\-()]{0,2}"
_PHONE_RE = re.compile(
    rf"(?<![\d+])(?:(?:\+|00)886{_SEP}\(?0?\)?|\(?0)\d(?:{_SEP}\d){{7,9}}(?!\d)"
    rf"|(?<![\d+])\+\d(?:{_SEP}\d){{7,14}}(?!\d)"
)


def check_recipient(number: str) -> str:
    """The number itself when it is a Taiwan mobile in +8869xxxxxxxx form; else InvalidRecipient."""
    if not TAIWAN_MOBILE_RE.match(number):
        raise InvalidRecipient(number)
    return number


def find_violations(text: str, allowed_domain: str) -> tuple[PolicyFinding, ...]:
    """Every off-domain link and every phone number in `text`, in order of appearance."""
    normal = unicodedata.normalize("NFKC", text)
    allowed = allowed_domain.lower()
    found: list[tuple[int, PolicyFinding]] = []
    for m in _SCHEME_URL_RE.finditer(normal):
        host = _host_of(m.group(0))
        if host != allowed:
            found.append((m.start(), PolicyFinding("url", m.group(0))))
    without_scheme_urls = _SCHEME_URL_RE.sub(lambda m: " " * len(m.group(0)), normal)
    for m in _HOST_RE.finditer(without_scheme_urls):
        host = m.group(1).lower()
        if host != allowed:
            found.append((m.start(), PolicyFinding("url", m.group(0))))
    for m in _PHONE_RE.finditer(normal):
        found.append((m.start(), PolicyFinding("phone", m.group(0).strip())))
    return tuple(f for _, f in sorted(found, key=lambda pair: pair[0]))


def check_content(text: str, allowed_domain: str) -> None:
    """Refuse an empty text (EmptyMessage) or one with off-domain links / phone numbers (ContentRefused)."""
    if not text.strip():
        raise EmptyMessage()
    findings = find_violations(text, allowed_domain)
    if findings:
        raise ContentRefused(findings, allowed_domain)


def _host_of(url: str) -> str:
    """The lower-cased host of a URL with a scheme (no user info, no port)."""
    rest = url.split("://", 1)[1]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = authority.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0].lower()
