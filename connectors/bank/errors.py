"""Typed errors of the bank-statement connector.

A statement file is accepted or rejected whole. A rejection is a `StatementFileRejected` subclass that
names the file, its sha256 and every problem found (per statement, so one report shows them all).
An accepted file may carry `ImportWarning`s (tolerated deviations from the SWIFT rules).
SFTP trouble is a `BankSftpError`; it never rejects a file (the file stays in the inbox for the next run).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RejectReason(StrEnum):
    """Why a whole file was refused; the most basic failure wins (see `StatementFileRejected.for_problems`)."""

    MALFORMED = "malformed"  # not decodable, tags missing/out of order, fields that break the SWIFT format
    INVALID = "invalid"  # well-formed but against our rules: unknown account, dates out of order
    UNBALANCED = "unbalanced"  # opening balance + movements != closing balance
    DUPLICATE = "duplicate"  # the file or one of its statements was imported before


@dataclass(frozen=True, slots=True)
class StatementProblem:
    """One thing wrong with one statement of a file (`statement` is 1-based; 0 = the file as a whole)."""

    statement: int
    code: str
    detail: str
    reason: RejectReason = RejectReason.MALFORMED

    def __str__(self) -> str:
        where = "file" if self.statement == 0 else f"statement {self.statement}"
        return f"{where}: {self.code}: {self.detail}"


@dataclass(frozen=True, slots=True)
class ImportWarning:
    """A harmless rule break in an accepted file (e.g. a :20: longer than 16x), recorded beside the import.

    `statement` is the 1-based index of the message (page) in the file, 0 = the file as a whole, as in
    `StatementProblem`. A warning never rejects anything.
    """

    statement: int
    code: str
    detail: str

    def __str__(self) -> str:
        where = "file" if self.statement == 0 else f"statement {self.statement}"
        return f"{where}: {self.code}: {self.detail}"


class BankConnectorError(Exception):
    """Base class of every error this connector raises on purpose."""


class StatementFileRejected(BankConnectorError):
    """A statement file refused as a whole; nothing of it was imported."""

    reason: RejectReason = RejectReason.MALFORMED

    def __init__(self, file_name: str, sha256: str, problems: tuple[StatementProblem, ...]) -> None:
        if not problems:
            raise ValueError("a rejection needs at least one problem")
        self.file_name = file_name
        self.sha256 = sha256
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{self.reason.value} statement file {file_name!r}: {shown}{more}")

    @staticmethod
    def for_problems(
        file_name: str, sha256: str, problems: tuple[StatementProblem, ...]
    ) -> StatementFileRejected:
        """The rejection matching the most basic problem: malformed > invalid > unbalanced > duplicate."""
        reasons = {p.reason for p in problems}
        for reason, cls in _BY_REASON:
            if reason in reasons:
                return cls(file_name, sha256, problems)
        raise ValueError("a rejection needs at least one problem")


class MalformedStatementFile(StatementFileRejected):
    reason = RejectReason.MALFORMED


class InvalidStatementFile(StatementFileRejected):
    reason = RejectReason.INVALID


class UnbalancedStatementFile(StatementFileRejected):
    reason = RejectReason.UNBALANCED


class DuplicateStatementFile(StatementFileRejected):
    reason = RejectReason.DUPLICATE


_BY_REASON: tuple[tuple[RejectReason, type[StatementFileRejected]], ...] = (
    (RejectReason.MALFORMED, MalformedStatementFile),
    (RejectReason.INVALID, InvalidStatementFile),
    (RejectReason.UNBALANCED, UnbalancedStatementFile),
    (RejectReason.DUPLICATE, DuplicateStatementFile),
)


class BankSftpError(BankConnectorError):
    """The SFTP server could not be reached, refused us, or changed under us."""


class HostKeyRejected(BankSftpError):
    """The server presented a host key other than the pinned one: we did not log in."""
