"""One pull of bank statements: fetch stable files, import each whole or reject it, archive both ways.

Per file, in this order (so a crash at any point loses nothing and imports nothing twice):
1. download the bytes (re-checked against the stable look);
2. keep a local copy (atomic write) under `local_archive_dir/<Taipei date>/`;
3. `StatementImporter.import_file`: validate, deduplicate, deliver, remember — or reject with a record;
4. move the remote file to the archive dir (imported) or the rejected dir, under a unique name.
A failure before step 3 has remembered the file leaves it in the inbox to be imported by the next pull.
A failure after that (e.g. the archive move) also leaves it in the inbox; the next pull sees identical
bytes and rejects them as a duplicate (with a record) and moves them aside: never imported twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncssh

from connectors.bank.dedup import SeenStatementStore
from connectors.bank.errors import BankSftpError, RejectReason, StatementFileRejected, StatementProblem
from connectors.bank.exceptions_log import ExceptionRecord, JsonlExceptionLog
from connectors.bank.importer import Deliver, StatementImporter, file_sha256
from connectors.bank.settings import BankSettings
from connectors.bank.sftp_fetch import (
    RemoteFile,
    RemoteFileChanged,
    Sleep,
    download,
    find_stable_files,
    move_remote,
    open_sftp,
)
from connectors.bank.statement import ImportedFile
from infra.clock import TAIPEI, Clock

log = logging.getLogger(__name__)

OnRejected = Callable[[ExceptionRecord], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RejectedFile:
    file_name: str
    reason: RejectReason
    problems: tuple[StatementProblem, ...]
    moved_to: str


@dataclass
class PullReport:
    """What one pull did; `imported` holds the typed statements for the publisher."""

    started_at: datetime
    imported: list[ImportedFile] = field(default_factory=list)
    archived_to: dict[str, str] = field(default_factory=dict)  # file name -> remote archive path
    rejected: list[RejectedFile] = field(default_factory=list)
    left_in_inbox: list[str] = field(default_factory=list)  # still being written, or changed mid-fetch


def archive_name(remote: RemoteFile, sha256: str, at: datetime) -> str:
    """A unique, sortable name: Taipei time of the pull, a hash prefix, the bank's own name."""
    return f"{at.astimezone(TAIPEI):%Y%m%dT%H%M%S}_{sha256[:12]}_{remote.name}"


def write_local_copy(directory: Path, name: str, data: bytes) -> Path:
    """Write `data` to `directory/name` atomically (temp file, fsync, rename); returns the path."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    temp = directory / f".{name}.part"
    with temp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    temp.replace(target)
    return target


async def _ignore_rejection(record: ExceptionRecord) -> None:
    del record


async def _pull_one(
    sftp: asyncssh.SFTPClient, remote: RemoteFile, settings: BankSettings, importer: StatementImporter,
    report: PullReport, on_rejected: OnRejected,
) -> None:
    try:
        data = await download(sftp, remote)
    except (RemoteFileChanged, asyncssh.SFTPNoSuchFile):  # rewritten or taken away since the stable look
        report.left_in_inbox.append(remote.name)
        return
    now = importer.clock.now()
    name = archive_name(remote, file_sha256(data), now)
    local_dir = settings.local_archive_dir / now.astimezone(TAIPEI).date().isoformat()
    local_copy = await asyncio.to_thread(write_local_copy, local_dir, name, data)
    try:
        imported = await importer.import_file(remote.name, data, local_copy=local_copy)
    except StatementFileRejected as rejected:
        # Handed on before the move: if this fails the file stays in the inbox and is rejected again.
        await on_rejected(ExceptionRecord.of(rejected, now, local_copy))
        moved_to = await move_remote(sftp, remote, settings.remote_rejected_dir, name)
        report.rejected.append(RejectedFile(remote.name, rejected.reason, rejected.problems, moved_to))
        log.warning("bank statement file rejected: %s (moved to %s)", rejected, moved_to)
        return
    report.archived_to[remote.name] = await move_remote(sftp, remote, settings.remote_archive_dir, name)
    report.imported.append(imported)
    log.info("imported %s: %d statements, %d transactions", remote.name, len(imported.statements),
             imported.transaction_count)


async def pull_statements(
    settings: BankSettings, importer: StatementImporter, *, sleep: Sleep = asyncio.sleep,
    on_rejected: OnRejected = _ignore_rejection,
) -> PullReport:
    """Fetch and import every stable file in the remote inbox once.

    A rejected file is recorded (exceptions log), handed to `on_rejected` (e.g. the Kafka publisher) and
    moved aside; rejections do not stop the pull. SFTP errors (`BankSftpError`, `HostKeyRejected`) and delivery
    errors propagate, leaving the current file in the inbox for the next pull.
    """
    report = PullReport(started_at=importer.clock.now())
    async with importer.exclusive(), open_sftp(settings) as sftp:
        try:
            stable, unstable = await find_stable_files(
                sftp, settings.remote_inbox_dir, settings.file_glob, settings.stable_check_delay_s, sleep
            )
            report.left_in_inbox.extend(unstable)
            for remote in stable:
                await _pull_one(sftp, remote, settings, importer, report, on_rejected)
        except asyncssh.Error as exc:  # SFTP status errors, lost connections: one typed error for callers
            raise BankSftpError(f"SFTP session with {settings.sftp_host} failed: {exc}") from exc
    return report


@dataclass
class PullJob:
    """A no-argument callable running one pull (for `schedule.DailyJobRunner`); keeps its last report."""

    settings: BankSettings
    importer: StatementImporter
    sleep: Sleep = asyncio.sleep
    on_rejected: OnRejected = _ignore_rejection
    last_report: PullReport | None = None

    async def __call__(self) -> PullReport:
        self.last_report = await pull_statements(self.settings, self.importer, sleep=self.sleep,
                                                 on_rejected=self.on_rejected)
        return self.last_report


def build_importer(
    settings: BankSettings, clock: Clock, store: SeenStatementStore, deliver: Deliver | None = None
) -> StatementImporter:
    """The importer with the exceptions log and known accounts the settings name, remembering what it
    imported in `store` (in production the PostgreSQL store shared by every importer)."""
    exceptions = JsonlExceptionLog(settings.exceptions_log_path)
    if deliver is None:
        return StatementImporter(store, exceptions, clock, known_accounts=settings.known_accounts)
    return StatementImporter(store, exceptions, clock, known_accounts=settings.known_accounts, deliver=deliver)
