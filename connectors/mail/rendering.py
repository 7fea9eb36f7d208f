"""Branded HTML + plain-text mails in Traditional Chinese (zh-TW) and English, from Jinja2 templates.

Contract of `MailTemplates.render(content, lang, archived=(), attachment_names=())`:
- Picks `<kind>.<lang>.subject.j2`, `.html.j2` and `.txt.j2` from the package's `templates/` directory.
  Every HTML template extends `layout.<lang>.html.j2` (branded header and footer), itself extending
  `base.html.j2` (structure and CSS); text templates extend `layout.<lang>.txt.j2`.
- HTML is autoescaped (every value from content or settings is escaped); subject and text are not HTML
  and are not escaped. Undefined variables are errors (StrictUndefined), never blank output.
- The CSS of `base.html.j2` is inlined into `style=` attributes with css-inline (mail clients drop or
  ignore <style>); @media rules stay in a <style> block for the clients that honour them (responsive).
  Remote stylesheets are never fetched.
- `archived` lists attachments replaced by links (too large to send); both parts then say so and link them.
- Returns `RenderedMail(subject, html, text)`; the subject is one line (whitespace collapsed), else
  `TemplateError`.
Dates and times are shown in Asia/Taipei.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import css_inline
import jinja2

from connectors.mail.content import MailContent
from connectors.mail.errors import TemplateError
from connectors.mail.settings import Language, MailSettings
from infra.clock import TAIPEI

LANGUAGES: tuple[Language, ...] = ("zh-TW", "en")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    """An attachment that was not sent but archived; the mail links it instead."""

    filename: str
    size_bytes: int
    url: str


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    html: str
    text: str


@dataclass(frozen=True, slots=True)
class Brand:
    """Settings-dependent values the header and footer show."""

    url: str
    support_address: str
    size_limit_bytes: int

    @classmethod
    def from_settings(cls, settings: MailSettings) -> Brand:
        return cls(settings.brand_url, settings.support_address, settings.max_message_bytes)


def format_date(value: date, lang: str) -> str:
    """2026年1月31日 / 31 Jan 2026 (a datetime is first converted to Asia/Taipei)."""
    if isinstance(value, datetime):
        value = _taipei(value).date()
    if lang == "zh-TW":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {_EN_MONTHS[value.month - 1]} {value.year}"


def format_datetime(value: datetime, lang: str) -> str:
    """2026年1月15日 10:30（台北時間） / 15 Jan 2026 10:30 (Taipei time)."""
    local = _taipei(value)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if lang == "zh-TW":
        return f"{format_date(local.date(), lang)} {clock}（台北時間）"
    return f"{format_date(local.date(), lang)} {clock} (Taipei time)"


def format_number(value: Decimal | int | float) -> str:
    """Thousands separators, no trailing zeros: 1234.50 -> 1,234.5 (same in both languages)."""
    number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if number == number.to_integral_value():
        return f"{number:,.0f}"
    return f"{number.normalize():,f}"


def format_size(size_bytes: int) -> str:
    """Binary units as mail clients show them: 25 MB means 25 MiB here (the spec's limit)."""
    if size_bytes < 1024:
        return f"{size_bytes} B"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.1f} KB"
    return f"{size_bytes / (1024 * 1024):.1f} MB"


def _taipei(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise TemplateError("naive datetime given to a mail template; use timezone-aware datetimes")
    return value.astimezone(TAIPEI)


class MailTemplates:
    """Renders the packaged templates (see module contract). Build once and share; rendering is thread-safe."""

    def __init__(self, brand: Brand) -> None:
        self._brand = brand
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("connectors.mail", "templates"),
            # Only HTML templates are escaped: escaping a subject or the text part would show "&amp;".
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters.update(
            date_fmt=format_date, datetime_fmt=format_datetime, number_fmt=format_number, size_fmt=format_size
        )
        self._inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)

    def render(
        self,
        content: MailContent,
        lang: Language,
        archived: Sequence[ArchivedFile] = (),
        attachment_names: Sequence[str] = (),
    ) -> RenderedMail:
        """Subject, inlined HTML and text for `content` in `lang` (see module contract)."""
        if lang not in LANGUAGES:
            raise TemplateError(f"unsupported language {lang!r}; use one of {LANGUAGES}")
        context: dict[str, Any] = dict(content)
        context.update(
            lang=lang,
            brand=self._brand,
            archived=tuple(archived),
            attachment_names=tuple(attachment_names),
        )
        subject = " ".join(self._render(f"{content.kind}.{lang}.subject.j2", context).split())
        if not subject:
            raise TemplateError(f"{content.kind}.{lang}.subject.j2 rendered an empty subject")
        context["subject"] = subject
        html = self._inliner.inline(self._render(f"{content.kind}.{lang}.html.j2", context))
        text = self._tidy_text(self._render(f"{content.kind}.{lang}.txt.j2", context))
        return RenderedMail(subject, html, text)

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        try:
            return self._env.get_template(name).render(context)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"mail template {exc.name} not found") from exc
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"mail template {name}: {exc.message}") from exc

    @staticmethod
    def _tidy_text(text: str) -> str:
        # Template logic leaves trailing spaces and blank-line runs; plain text shows both literally.
        lines = "\n".join(line.rstrip() for line in text.strip().splitlines())
        return _BLANK_RUNS.sub("\n\n", lines) + "\n"
