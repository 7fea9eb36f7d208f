"""A real SFTP server for the bank-connector tests: the stack's own (`infra.sftp.server.serve`) on 127.0.0.1,
chrooted to a tmp dir, in the tests' event loop.

Key-only login with a client key generated here; the server has its own generated host key, which the
client pins. Each test works in its own directory under the chroot (its own inbox/archive/rejected) and
gets an importer whose seen-store is in memory (the PostgreSQL store has its own contract tests).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import pytest_asyncio

from connectors.bank.dedup import MemorySeenStatementStore
from connectors.bank.exceptions_log import JsonlExceptionLog
from connectors.bank.importer import Deliver, StatementImporter
from connectors.bank.settings import BankSettings
from infra.clock import Clock
from infra.sftp.server import serve


@dataclass(frozen=True)
class SftpServer:
    port: int
    root: Path
    host_key_line: str  # OpenSSH public-key line of the server's host key
    client_key_path: Path


@dataclass(frozen=True)
class BankCase:
    """One test's view: its settings and the server-side directories behind them."""

    settings: BankSettings
    inbox: Path
    archive: Path
    rejected: Path
    local_dir: Path


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SftpServer]:
    root = tmp_path_factory.mktemp("sftp-root")
    keys = tmp_path_factory.mktemp("sftp-keys")
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519", comment="luckygas-bank-client")
    client_key_path = keys / "client_ed25519"
    client_key.write_private_key(client_key_path)
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())
    acceptor = await serve("127.0.0.1", 0, root, host_key, authorized)
    port = acceptor.sockets[0].getsockname()[1]
    try:
        yield SftpServer(port, root, host_key.export_public_key().decode().strip(), client_key_path)
    finally:
        acceptor.close()
        await acceptor.wait_closed()


def make_settings(server: SftpServer, case: str, local: Path, **overrides: Any) -> BankSettings:
    values: dict[str, Any] = {
        "sftp_host": "127.0.0.1",
        "sftp_port": server.port,
        "sftp_username": "luckygas",
        "private_key_path": server.client_key_path,
        "host_key": server.host_key_line,
        "remote_inbox_dir": f"/{case}/inbox",
        "remote_archive_dir": f"/{case}/archive",
        "remote_rejected_dir": f"/{case}/rejected",
        "local_archive_dir": local / "archive",
        "exceptions_log_path": local / "exceptions.jsonl",
        "stable_check_delay_s": 0.05,
        "connect_timeout_s": 10,
    }
    values.update(overrides)
    return BankSettings(**values)


def memory_importer(settings: BankSettings, clock: Clock, deliver: Deliver | None = None) -> StatementImporter:
    """An importer like `pull.build_importer`'s, with a fresh in-memory seen-store."""
    exceptions = JsonlExceptionLog(settings.exceptions_log_path)
    if deliver is None:
        return StatementImporter(MemorySeenStatementStore(), exceptions, clock, known_accounts=settings.known_accounts)
    return StatementImporter(MemorySeenStatementStore(), exceptions, clock, known_accounts=settings.known_accounts,
                             deliver=deliver)


@pytest.fixture
def bank_case(sftp_server: SftpServer, request: pytest.FixtureRequest, tmp_path: Path) -> BankCase:
    case = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:60]
    inbox = sftp_server.root / case / "inbox"
    inbox.mkdir(parents=True)
    settings = make_settings(sftp_server, case, tmp_path)
    return BankCase(settings, inbox, sftp_server.root / case / "archive", sftp_server.root / case / "rejected",
                    tmp_path)
