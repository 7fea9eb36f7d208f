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

import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from connectors.bank.dedup import SeenStatementStore, find_duplicates
from connectors.bank.errors import (
    DuplicateStatementFile,
    MalformedStatementFile,
    StatementFileRejected,
    StatementProblem,
)
from connectors.bank.exceptions_log import ExceptionLog, ExceptionRecord
from connectors.bank.mt940_parse import NoStatements, UndecodableFile, decode_statement_bytes, frame_messages
from connectors.bank.statement import ImportedFile
from connectors.bank.validate import StatementRules, check_file
from infra.clock import Clock, business_day

Deliver = Callable[[ImportedFile], Awaitable[None]]


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_statement_file(file_name: str, data: bytes, rules: StatementRules) -> ImportedFile:
    """Decode, frame, parse and validate every message of a file, joining pages into statements.

    Pure (no I/O, no duplicate check). Raises `MalformedStatementFile`, `InvalidStatementFile` or
    `UnbalancedStatementFile` (the most basic failure found) carrying all problems; returns the whole file,
    with the warnings of its tolerated deviations (`validate` lists them), only when every statement is good.
    """
    sha256 = file_sha256(data)
    try:
        decoded = decode_statement_bytes(data)
        framed = frame_messages(decoded.text)
    except UndecodableFile as exc:
        raise MalformedStatementFile(file_name, sha256, (StatementProblem(0, "encoding", str(exc)),)) from exc
    except NoStatements as exc:
        raise MalformedStatementFile(file_name, sha256, (StatementProblem(0, "no_statements", str(exc)),)) from exc
    checked = check_file(framed.messages, rules, file_name=file_name, sha256=sha256, encoding=decoded.encoding)
    problems = (*framed.problems, *checked.problems)
    if problems:
        raise StatementFileRejected.for_problems(file_name, sha256, problems)
    warnings = tuple(sorted((*framed.warnings, *checked.warnings), key=lambda w: w.statement))
    return ImportedFile(file_name, sha256, decoded.encoding, checked.statements, warnings)


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
        self._holding = False

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the store's lock across several imports (`pull_statements` holds it for a whole pull, so a
        second importer on the same inbox waits and then finds the files gone, instead of racing for them);
        `import_file` inside does not take it again."""
        async with self.store.exclusive():
            self._holding = True
            try:
                yield
            finally:
                self._holding = False

    async def import_file(self, file_name: str, data: bytes, *, local_copy: Path | None = None) -> ImportedFile:
        """Import a whole file or nothing of it.

        Raises a `StatementFileRejected` subclass (after writing an exception record naming `local_copy`)
        when the file is malformed, invalid, unbalanced or a duplicate. Anything `deliver` raises
        propagates with nothing recorded. The duplicate check, `deliver` and `record` run inside
        `store.exclusive()`, so two importers sharing a store never both deliver the same file.
        """
        now = self.clock.now()
        rules = StatementRules(self.known_accounts, today=business_day(now))
        try:
            imported = read_statement_file(file_name, data, rules)
            lock = contextlib.nullcontext() if self._holding else self.store.exclusive()
            async with lock:  # no other importer checks, delivers or records meanwhile
                duplicates = await find_duplicates(imported, self.store)
                if duplicates:
                    raise DuplicateStatementFile(file_name, imported.sha256, tuple(duplicates))
                await self.deliver(imported)
                await self.store.record(imported, now)
        except StatementFileRejected as rejected:
            self.exceptions.append(ExceptionRecord.of(rejected, now, local_copy))
            raise
        return imported
