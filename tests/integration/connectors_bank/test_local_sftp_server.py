"""The stack's SFTP server as the stack runs it: a background process started by `start_sftp`, reached with
asyncssh pinning the generated host key, stopped by SIGTERM (no shared stack needed: own port and dirs)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import asyncssh
import pytest

from connectors.bank.pull import pull_statements
from connectors.bank.settings import BankSettings
from connectors.bank.sftp_fetch import pinned_host_keys
from infra.clock import FixedClock
from infra.process import ManagedProcess, free_port
from infra.sftp.runner import PROCESS_NAME, SftpKeys, sftp_healthy, start_sftp, stop_sftp
from infra.simulator.mt940_text import OPENING_BALANCES, TWD_ACCOUNT, USD_ACCOUNT, PaymentRow, plan_days, render_file
from infra.simulator.statements import statement_file_name
from tests.integration.connectors_bank.conftest import memory_importer

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class LocalSftp:
    port: int
    root: Path
    state_dir: Path
    keys: SftpKeys


@pytest.fixture
def local_sftp(tmp_path: Path) -> Iterator[LocalSftp]:
    port, root, state = free_port(), tmp_path / "root", tmp_path / "state"
    keys = start_sftp("127.0.0.1", port, root, tmp_path / "keys", state)
    try:
        yield LocalSftp(port, root, state, keys)
    finally:
        stop_sftp(state)


def _client_options(server: LocalSftp, client_key: Path | None = None) -> dict[str, object]:
    return {
        "port": server.port,
        "username": "luckygas",
        "client_keys": [asyncssh.read_private_key(client_key or server.keys.client_key)],
        "known_hosts": (pinned_host_keys(server.keys.host_key_line()), [], []),
        "agent_path": None,
        "config": [],
        "connect_timeout": 10,
    }


async def test_login_list_upload_and_rename_inside_the_chroot(local_sftp: LocalSftp) -> None:
    assert sftp_healthy("127.0.0.1", local_sftp.port)
    assert sorted(p.name for p in local_sftp.root.iterdir()) == ["archive", "inbox", "rejected"]
    (local_sftp.root / "inbox" / "LGB_20260114.sta").write_bytes(b":20:X\r\n")
    async with asyncssh.connect("127.0.0.1", **_client_options(local_sftp)) as conn, conn.start_sftp_client() as sftp:
        assert sorted(await sftp.listdir("/")) == [".", "..", "archive", "inbox", "rejected"]
        assert [n for n in await sftp.listdir("/inbox") if not n.startswith(".")] == ["LGB_20260114.sta"]
        async with sftp.open("/inbox/uploaded.sta", "wb") as fh:
            await fh.write(b"uploaded\r\n")
        await sftp.rename("/inbox/LGB_20260114.sta", "/archive/20260115T060000_LGB_20260114.sta")
        assert await sftp.listdir("/..") == await sftp.listdir("/")  # the chroot holds: no way above the root
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.run("ls /")  # no shell, no exec: SFTP only
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.run("scp -t /inbox")  # and no SCP
    assert (local_sftp.root / "inbox" / "uploaded.sta").read_bytes() == b"uploaded\r\n"
    assert (local_sftp.root / "archive" / "20260115T060000_LGB_20260114.sta").read_bytes() == b":20:X\r\n"


async def test_only_the_authorized_client_key_gets_in(local_sftp: LocalSftp, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(stranger)
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect("127.0.0.1", **_client_options(local_sftp, stranger))
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect("127.0.0.1", port=local_sftp.port, username="luckygas", password="luckygas",
                               client_keys=[], known_hosts=(pinned_host_keys(local_sftp.keys.host_key_line()), [], []),
                               agent_path=None, config=[], connect_timeout=10)


async def test_start_is_idempotent_and_sigterm_stops_it_with_a_session_open(local_sftp: LocalSftp) -> None:
    process = ManagedProcess(PROCESS_NAME, [], local_sftp.state_dir)
    pid = process.pid()
    assert pid is not None
    again = start_sftp("127.0.0.1", local_sftp.port, local_sftp.root, local_sftp.keys.host_key.parent,
                       local_sftp.state_dir)
    assert again == local_sftp.keys and process.pid() == pid  # not a second server
    conn = await asyncssh.connect("127.0.0.1", **_client_options(local_sftp))
    try:
        started = time.monotonic()
        stop_sftp(local_sftp.state_dir)
        assert time.monotonic() - started < 5  # exited on SIGTERM, not killed after the timeout
        await conn.wait_closed()  # the server closed our session
    finally:
        conn.close()
    assert not process.running() and not sftp_healthy("127.0.0.1", local_sftp.port)
    log = process.log_file.read_text()
    assert f"sftp server ready on 127.0.0.1:{local_sftp.port}" in log and "sftp server stopped" in log


async def test_the_importer_pulls_the_simulators_statements_from_it(local_sftp: LocalSftp, tmp_path: Path) -> None:
    days = [date(2026, 11, 29), date(2026, 11, 30)]
    payments = [PaymentRow(i, days[i % 2], Decimal(1000 + i), "virtual_account", f"TX261129{i:08d}",
                           f"9501{i:09d}0", "大同瓦斯行") for i in range(1, 21)]
    for plan in plan_days(days, payments, OPENING_BALANCES, seed=44):
        (local_sftp.root / "inbox" / statement_file_name(plan.day)).write_bytes(render_file(plan.statements))
    settings = BankSettings(
        sftp_host="127.0.0.1", sftp_port=local_sftp.port, private_key_path=local_sftp.keys.client_key,
        host_key_path=local_sftp.keys.host_key_pub, local_archive_dir=tmp_path / "archive",
        exceptions_log_path=tmp_path / "exceptions.jsonl", file_glob="LGB_*.sta", stable_check_delay_s=0.05,
        known_accounts=frozenset({TWD_ACCOUNT, USD_ACCOUNT}),
    )
    morning = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)  # 06:00 on Dec 1 in Taipei
    report = await pull_statements(settings, memory_importer(settings, FixedClock(morning)))
    assert [f.file_name for f in report.imported] == ["LGB_20261129.sta", "LGB_20261130.sta"]
    assert report.rejected == [] and list((local_sftp.root / "inbox").iterdir()) == []
    assert sorted(p.name.split("_", 2)[2] for p in (local_sftp.root / "archive").iterdir()) == [
        "LGB_20261129.sta", "LGB_20261130.sta"]
    first, second = report.imported
    assert first.statements[0].closing.amount == second.statements[0].opening.amount
    assert second.statements[0].closing.on == date(2026, 11, 30)
