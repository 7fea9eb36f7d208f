"""Import one statement file, all or nothing.

`read_statement_file` is pure: bytes in, an `ImportedFile` out, or a `StatementFileRejected` subclass
listing every problem of every statement (each statement is validated on its own; one bad statement
rejects the whole file).

`StatementImporter.import_file` adds the side effects in a safe order: reject duplicates, hand the file to
`deliver` (e.g. the Kafka publisher), and only then remember it in the seen-store. A rejection is written
to the exceptions log and re-raised; a failing `deliver` leaves nothing recorded, so the next run retries
the file. Delivery is therefore at-least-once; consumers can deduplicate on (account, statement number,
opening date and amount), the same key the seen-store uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from connectors.bank.dedup import SeenStatementStore, find_duplicates
from connectors.bank.errors import (
    DuplicateStatementFile,
    MalformedStatementFile,
    StatementFileRejected,
    StatementProblem,
)
from connectors.bank.exceptions_log import ExceptionLog, ExceptionRecord
from connectors.bank.mt940_parse import NoStatements, UndecodableFile, decode_statement_bytes, split_statements
from connectors.bank.statement import ImportedFile, ImportedStatement
from connectors.bank.validate import StatementRules, check_statement
from infra.clock import Clock, business_day

Deliver = Callable[[ImportedFile], Awaitable[None]]


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_statement_file(file_name: str, data: bytes, rules: StatementRules) -> ImportedFile:
    """Decode, split, parse and validate every statement of a file.

    Raises `MalformedStatementFile`, `InvalidStatementFile` or `UnbalancedStatementFile` (the most basic
    failure found) carrying all problems; returns the whole file only when every statement is good.
    """
    sha256 = file_sha256(data)
    try:
        decoded = decode_statement_bytes(data)
        raws = split_statements(decoded.text)
    except UndecodableFile as exc:
        raise MalformedStatementFile(file_name, sha256, (StatementProblem(0, "encoding", str(exc)),)) from exc
    except NoStatements as exc:
        raise MalformedStatementFile(file_name, sha256, (StatementProblem(0, "no_statements", str(exc)),)) from exc
    statements: list[ImportedStatement] = []
    problems: list[StatementProblem] = []
    for raw in raws:
        statement, found = check_statement(
            raw, rules, file_name=file_name, sha256=sha256, encoding=decoded.encoding
        )
        problems.extend(found)
        if statement is not None:
            statements.append(statement)
    if problems:
        raise StatementFileRejected.for_problems(file_name, sha256, tuple(problems))
    return ImportedFile(file_name, sha256, decoded.encoding, tuple(statements))


async def _deliver_nowhere(imported: ImportedFile) -> None:
    """The default hand-off: the caller takes the result from `import_file`'s return value."""
    del imported


class StatementImporter:
    """Validates, deduplicates, hands off and remembers statement files; logs every rejection."""

    def __init__(
        self,
        store: SeenStatementStore,
        exceptions: ExceptionLog,
        clock: Clock,
        *,
        known_accounts: frozenset[str] = frozenset(),
        deliver: Deliver = _deliver_nowhere,
    ) -> None:
        self.store = store
        self.exceptions = exceptions
        self.clock = clock
        self.known_accounts = known_accounts
        self.deliver = deliver

    async def import_file(self, file_name: str, data: bytes, *, local_copy: Path | None = None) -> ImportedFile:
        """Import a whole file or nothing of it.

        Raises a `StatementFileRejected` subclass (after writing an exception record naming `local_copy`)
        when the file is malformed, invalid, unbalanced or a duplicate. Anything `deliver` raises
        propagates with nothing recorded.
        """
        now = self.clock.now()
        rules = StatementRules(self.known_accounts, today=business_day(now))
        try:
            imported = read_statement_file(file_name, data, rules)
            duplicates = find_duplicates(imported, self.store)
            if duplicates:
                raise DuplicateStatementFile(file_name, imported.sha256, tuple(duplicates))
            await self.deliver(imported)
            self.store.record(imported, now)
        except StatementFileRejected as rejected:
            self.exceptions.append(ExceptionRecord.of(rejected, now, local_copy))
            raise
        return imported
