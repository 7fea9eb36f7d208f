"""A real SFTP server standing in for the bank's: asyncssh on one address, chrooted to one directory.

    python -m infra.sftp.server --host 127.0.0.1 --port P --root DIR --host-key FILE --authorized-keys FILE

Contract:
- SFTP only, inside `root` (the client sees it as "/"): no shell, no exec, no SCP, no port, agent or X11
  forwarding, no PTY;
- public-key login only, with any user name, for the keys in the authorized-keys file (no password, no
  keyboard-interactive, no GSSAPI);
- `main` creates `root/inbox`, `root/archive` and `root/rejected`, prints one line "sftp server ready on
  HOST:PORT root=DIR" once it accepts connections, and on SIGTERM or SIGINT stops listening, closes the
  open sessions and exits 0.
`serve` is the same server as a coroutine, for tests that run it in their own event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import asyncssh

ROOT_DIRS = ("inbox", "archive", "rejected")

log = logging.getLogger("infra.sftp.server")


class _Tracked(asyncssh.SSHServer):
    """Keeps the set of open connections up to date, so a stopping server can close them."""

    def __init__(self, open_connections: set[asyncssh.SSHServerConnection]) -> None:
        self._open = open_connections
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._open.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._open.discard(self._conn)


def prepare_root(root: Path, dirs: Sequence[str] = ROOT_DIRS) -> None:
    """Create the root and the bank's usual directories in it (idempotent)."""
    for name in dirs:
        (root / name).mkdir(parents=True, exist_ok=True)


def _chroot(root: Path) -> bytes:
    """The absolute path of the root, as asyncssh's chroot wants it."""
    return os.fsencode(root.resolve())


async def serve(
    host: str,
    port: int,
    root: Path,
    host_key: asyncssh.SSHKey | Path,
    authorized_keys: asyncssh.SSHAuthorizedKeys | Path,
    open_connections: set[asyncssh.SSHServerConnection] | None = None,
) -> asyncssh.SSHAcceptor:
    """Start listening (port 0 picks a free port: read it from `acceptor.sockets[0].getsockname()[1]`).

    `host_key` is the server's private key (or its file), `authorized_keys` the client keys allowed in (or
    an OpenSSH authorized_keys file). `acceptor.close()` only stops listening: pass `open_connections`
    to have the open connections kept in that set, to close them too.
    """
    tracked: set[asyncssh.SSHServerConnection] = set() if open_connections is None else open_connections
    key = asyncssh.read_private_key(host_key) if isinstance(host_key, Path) else host_key
    authorized = (asyncssh.read_authorized_keys(str(authorized_keys)) if isinstance(authorized_keys, Path)
                  else authorized_keys)
    chroot = _chroot(root)

    def sftp_factory(chan: asyncssh.SSHServerChannel[bytes]) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=chroot)

    return await asyncssh.listen(
        host, port,
        server_factory=lambda: _Tracked(tracked),
        server_host_keys=[key],
        authorized_client_keys=authorized,
        sftp_factory=sftp_factory,
        allow_scp=False,
        password_auth=False,
        kbdint_auth=False,
        gss_host=None,
        agent_forwarding=False,
        x11_forwarding=False,
        allow_pty=False,
    )


async def _run(args: argparse.Namespace) -> None:
    prepare_root(args.root)
    sessions: set[asyncssh.SSHServerConnection] = set()
    acceptor = await serve(args.host, args.port, args.root, args.host_key, args.authorized_keys, sessions)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    print(f"sftp server ready on {args.host}:{args.port} root={args.root}", flush=True)
    await stopping.wait()
    log.info("stopping")
    acceptor.close()  # stops listening; open sessions are closed next
    open_now = list(sessions)
    for conn in open_now:
        conn.close()
    await asyncio.gather(*(conn.wait_closed() for conn in open_now))
    await acceptor.wait_closed()
    print("sftp server stopped", flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.sftp.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", type=Path, required=True, help="the directory clients see as /")
    parser.add_argument("--host-key", type=Path, required=True, help="the server's private host key (OpenSSH)")
    parser.add_argument("--authorized-keys", type=Path, required=True, help="client public keys allowed in")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.WARNING)  # health probes would log a line each
    asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
