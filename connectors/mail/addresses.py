"""Mail address normalization shared by settings, composition and the suppression list.

Contract of `normalize_address(text)`: accepts a bare addr-spec or a "Name <addr>" form and returns the
addr-spec, lower-cased and stripped, so that one mailbox has one key everywhere (the suppression list
compares these keys). Raises `InvalidAddress` for anything that is not one plain ASCII address: we do not
negotiate SMTPUTF8, so an internationalized local part could not be sent anyway, and a domain must be
given in its ASCII (punycode) form.
"""

from __future__ import annotations

import re
from email.utils import getaddresses

from connectors.mail.errors import InvalidAddress

# Deliberately narrower than RFC 5322 (no quoted local parts, no address literals): these are the
# addresses our staff and customers use, and anything odder is more likely a typo than a mailbox.
_ADDR_RE = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$"
)


def normalize_address(text: str) -> str:
    """The lower-cased addr-spec of `text` (see module contract)."""
    if "\n" in text or "\r" in text:
        raise InvalidAddress(text, "contains a line break")
    parsed = getaddresses([text])
    if len(parsed) != 1:
        raise InvalidAddress(text, "not exactly one address")
    address = parsed[0][1].strip().lower()
    if not address.isascii():
        raise InvalidAddress(text, "non-ASCII address (SMTPUTF8 is not used; give the domain in punycode)")
    if len(address) > 254 or not _ADDR_RE.match(address):
        raise InvalidAddress(text, "not a mail address of the form local@domain.tld")
    return address


def normalize_all(addresses: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Normalize each address and drop duplicates, keeping the first occurrence's order."""
    seen: dict[str, None] = {}
    for address in addresses:
        seen.setdefault(normalize_address(address), None)
    return tuple(seen)
