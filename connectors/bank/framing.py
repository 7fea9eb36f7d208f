"""Cut a decoded MT940 file into messages (one per :20:) and each message into its tags.

Contract of `frame_messages(text)`: the messages in file order, each a `RawStatement` of `RawTag`s, plus
the warnings and fatal problems of the framing; raises `NoStatements` when the text holds no message.

A message starts at a line ":20:" and ends at the next ":20:", at an end marker ("-" alone on a line, or
"-}" closing a SWIFT text block, possibly followed by more blocks such as "{5:{CHK:..}}"), at an SOH
(\\x01) or ETX (\\x03) byte, or at the end of the file. Line ends may be CRLF, LF, CR or mixed. Inside a
message a line starting ":NN[A]:" or ":NS:" opens a tag; any other non-blank line continues the tag
before it (joined with "\\n", so stray text after a field makes that field invalid); blank lines are
dropped. Values keep their trailing spaces (the :61: reference may be blank spaces).

Between messages these are skipped silently: blank lines, "-" / "-}" markers, SOH/ETX, SWIFT envelope
blocks ({1:..}{2:..}{3:{108:..}} .. {4: opens the text block; several blocks may share a line, and the
text block's first line may follow "{4:" on the same line) and the ":940:" header line. Other text before
a message's :20: is skipped with an `ImportWarning` "header_text_skipped" naming it. Fatal (problems):
a tag line outside any message ("tag_outside_statement", e.g. a statement that lost its :20:) and text
after the last message ("trailing_text").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from connectors.bank.errors import ImportWarning, StatementProblem

_TAG_LINE = re.compile(r"^:(?P<tag>\d{2}[A-Z]?|NS):(?P<value>.*)$")
_CONTROL = re.compile(r"[\x01\x03]")
_HEADER_LINES = frozenset({":940:"})


class NoStatements(ValueError):
    """The text holds no statement message (no line starting with :20:)."""


@dataclass(frozen=True, slots=True)
class RawTag:
    tag: str  # "20", "28C", "61", "NS" ...
    value: str  # continuation lines joined with "\n", trailing spaces kept
    line: int  # 1-based line of the file where the tag starts


@dataclass(frozen=True, slots=True)
class RawStatement:
    """One message (a statement, or one page of a multi-page statement) as its raw tags."""

    index: int  # 1-based position of the message in the file
    tags: tuple[RawTag, ...]

    def values(self, tag: str) -> list[str]:
        return [t.value for t in self.tags if t.tag == tag]


@dataclass(frozen=True, slots=True)
class FramedText:
    messages: tuple[RawStatement, ...]
    warnings: tuple[ImportWarning, ...]
    problems: tuple[StatementProblem, ...]


def _strip_blocks(text: str) -> str | None:
    """`text` without its leading envelope blocks ("{4:" itself included: its text follows), or None when
    `text` does not start with well-formed blocks."""
    rest = text
    while rest.startswith("{"):
        if rest.startswith("{4:"):
            return rest[3:]
        depth = 0
        for position, char in enumerate(rest):
            depth += (char == "{") - (char == "}")
            if depth == 0:
                rest = rest[position + 1:]
                break
        else:
            return None
    return rest


@dataclass
class _Framer:
    messages: list[RawStatement] = field(default_factory=list)
    warnings: list[ImportWarning] = field(default_factory=list)
    problems: list[StatementProblem] = field(default_factory=list)
    tags: list[RawTag] | None = None  # the open message, None between messages
    header: list[tuple[int, str]] = field(default_factory=list)  # skipped text awaiting its message
    stray_tag: bool = False  # inside a run of tag lines outside any message

    def end_message(self) -> None:
        if self.tags is not None:
            self.messages.append(RawStatement(len(self.messages) + 1, tuple(self.tags)))
            self.tags = None

    def start_message(self, number: int, value: str) -> None:
        self.end_message()
        if self.header:
            first_line, first_text = self.header[0]
            detail = (f"{len(self.header)} line(s) of text before the :20: on line {number} skipped, "
                      f"from line {first_line}: {first_text[:60]!r}")
            self.warnings.append(ImportWarning(len(self.messages) + 1, "header_text_skipped", detail))
            self.header = []
        self.tags = [RawTag("20", value, number)]
        self.stray_tag = False

    def inside(self, number: int, text: str, tags: list[RawTag]) -> None:
        stripped = text.rstrip()
        if not stripped:
            return
        if stripped == "-" or stripped.startswith("-}"):
            self.end_message()
            if stripped[2:]:
                self.outside(number, stripped[2:])
            return
        match = _TAG_LINE.match(text)
        if match and match.group("tag") == "20":
            self.start_message(number, match.group("value"))
        elif match:
            tags.append(RawTag(match.group("tag"), match.group("value"), number))
        else:
            last = tags[-1]
            tags[-1] = RawTag(last.tag, f"{last.value}\n{text}", last.line)

    def outside(self, number: int, text: str) -> None:
        stripped = text.strip()
        if stripped in ("", "-") or stripped in _HEADER_LINES:
            return
        if stripped.startswith("-}"):  # the end of an (empty) text block, maybe with blocks after it
            self.outside(number, stripped[2:])
            return
        if stripped.startswith("{"):
            rest = _strip_blocks(stripped)
            if rest is not None:
                if rest.strip():
                    self.line(number, rest)
                return
        match = _TAG_LINE.match(stripped)
        if match and match.group("tag") == "20":
            self.start_message(number, match.group("value"))
        elif match:
            if not self.stray_tag:
                detail = f"line {number}: :{match.group('tag')}: is outside any statement (no :20: before it)"
                self.problems.append(StatementProblem(0, "tag_outside_statement", detail))
            self.stray_tag = True
        else:
            self.header.append((number, stripped))

    def line(self, number: int, text: str) -> None:
        if self.tags is None:
            self.outside(number, text)
        else:
            self.inside(number, text, self.tags)

    def finish(self) -> FramedText:
        self.end_message()
        if not self.messages:
            raise NoStatements("no statement (no line starting with :20:)")
        if self.header:
            first_line, first_text = self.header[0]
            detail = f"text after the last statement, from line {first_line}: {first_text[:60]!r}"
            self.problems.append(StatementProblem(0, "trailing_text", detail))
        return FramedText(tuple(self.messages), tuple(self.warnings), tuple(self.problems))


def frame_messages(text: str) -> FramedText:
    """The messages of a decoded file with the framing's warnings and problems (see the module docstring);
    raises `NoStatements` when there is none."""
    framer = _Framer()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, line in enumerate(lines, start=1):
        if _CONTROL.search(line) is None:
            framer.line(number, line)
            continue
        for position, segment in enumerate(_CONTROL.split(line)):
            if position:
                framer.end_message()  # SOH or ETX: a message boundary
            framer.line(number, segment)
    return framer.finish()
