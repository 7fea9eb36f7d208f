"""Object names of the archive: `<prefix>/<yyyy>/<mm>/<report>-<yyyymmddThhmmssZ>.<ext>.gz.enc`.

Contract: `object_name(report, ext, at)` builds a name from a report slug, the file extension of the original
(csv, xlsx, pdf, parquet, ...) and an aware timestamp, which is converted to UTC: the folder is the UTC year
and month and the stamp ends in `Z`, so names sort by time and never depend on the host's time zone.
`validate_object_name(name)` applies GCS's rules for names (1-1024 UTF-8 bytes, no CR/LF or other control
characters, not `.`/`..`, not starting with `.well-known/acme-challenge/`) and is used on every write.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

Kind = Literal["report", "tax"]
ARCHIVE_SUFFIX = ".gz.enc"
PREFIXES: dict[Kind, str] = {"report": "reports", "tax": "tax"}

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_EXT_RE = re.compile(r"^[a-z0-9]{1,10}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def object_name(report: str, ext: str, at: datetime, kind: Kind = "report") -> str:
    """The archive name of one generated report or tax document (see the module docstring)."""
    if not _SLUG_RE.match(report):
        raise ValueError(f"report slug {report!r} must be 1-100 of a-z 0-9 . _ - (starting with a letter or digit)")
    ext = ext.lower().lstrip(".")
    if not _EXT_RE.match(ext):
        raise ValueError(f"extension {ext!r} must be 1-10 of a-z 0-9")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    utc = at.astimezone(UTC)
    return f"{PREFIXES[kind]}/{utc:%Y}/{utc:%m}/{report}-{utc:%Y%m%dT%H%M%SZ}.{ext}{ARCHIVE_SUFFIX}"


def validate_object_name(name: str) -> str:
    """Return `name` if GCS accepts it as an object name, else raise ValueError saying why."""
    if not name:
        raise ValueError("object name is empty")
    if len(name.encode("utf-8")) > 1024:
        raise ValueError("object name is longer than 1024 UTF-8 bytes")
    if _CONTROL_RE.search(name):
        raise ValueError(f"object name {name!r} contains control characters (CR/LF are refused by GCS)")
    if name in (".", ".."):
        raise ValueError("object name may not be '.' or '..'")
    if name.startswith(".well-known/acme-challenge/"):
        raise ValueError("object names under .well-known/acme-challenge/ are reserved by GCS")
    return name
