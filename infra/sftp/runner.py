"""Run the local SFTP server (the bank's stand-in) as one of the stack's background processes.

Contract:
- `ensure_keys(keys_dir)` generates, the first time only, an ed25519 host key (`host_key`, with its
  OpenSSH public line in `host_key.pub`, the line the importer pins) and an ed25519 client key
  (`client_ed25519`, `client_ed25519.pub`) allowed in by `authorized_keys`. Secret files are 0600, the
  directory 0700; every file is written atomically. Later calls change nothing and return the same paths
  (a missing public file or authorized_keys is derived again from its private key).
- `start_sftp` is idempotent: it creates the keys and `root/inbox|archive|rejected`, starts
  `python -m infra.sftp.server` as a `ManagedProcess` named "sftp" (pid file `state_dir/run/sftp.pid`, log
  `state_dir/logs/sftp.log`) unless it already runs, and returns once `sftp_healthy` answers; it raises
  `StackError` (with the log's tail) when the port is taken by something else or the server exits.
- `sftp_healthy` is true when host:port accepts TCP and greets with an SSH-2.0 banner.
- `stop_sftp` sends SIGTERM (the server closes its sessions and exits), SIGKILL after a timeout.
Functions take plain values (host, port, directories), not the settings object.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from infra.process import ManagedProcess, StackError, port_open, wait_until
from infra.sftp.server import prepare_root

PROCESS_NAME = "sftp"


@dataclass(frozen=True, slots=True)
class SftpKeys:
    """The key files of the local SFTP server and of the one client it lets in."""

    host_key: Path  # private, 0600
    host_key_pub: Path  # OpenSSH public-key line: what the importer pins
    client_key: Path  # private, 0600: the importer's login key
    client_key_pub: Path
    authorized_keys: Path

    def host_key_line(self) -> str:
        return self.host_key_pub.read_text(encoding="utf-8").strip()


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(temp, mode)  # O_CREAT's mode is filtered by the umask
    temp.replace(path)


def _private_key(path: Path, comment: str) -> asyncssh.SSHKey:
    """The key in `path`, generated (ed25519) and written 0600 if the file does not exist."""
    if path.exists():
        return asyncssh.read_private_key(path)
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    _write_atomically(path, key.export_private_key(), 0o600)
    return key


def _public_file(path: Path, key: asyncssh.SSHKey) -> None:
    if not path.exists():
        _write_atomically(path, key.export_public_key(), 0o644)


def ensure_keys(keys_dir: Path) -> SftpKeys:
    """Generate the server's host key and our client key once; see the module contract."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    keys = SftpKeys(keys_dir / "host_key", keys_dir / "host_key.pub", keys_dir / "client_ed25519",
                    keys_dir / "client_ed25519.pub", keys_dir / "authorized_keys")
    host = _private_key(keys.host_key, "luckygas-local-sftp-host")
    _public_file(keys.host_key_pub, host)
    client = _private_key(keys.client_key, "luckygas-bank-client")
    _public_file(keys.client_key_pub, client)
    if not keys.authorized_keys.exists():
        _write_atomically(keys.authorized_keys, client.export_public_key(), 0o600)
    return keys


def sftp_process(host: str, port: int, root: Path, keys: SftpKeys, state_dir: Path) -> ManagedProcess:
    """The server as a managed process (pid and log files under `state_dir`)."""
    argv = [sys.executable, "-m", "infra.sftp.server", "--host", host, "--port", str(port), "--root", str(root),
            "--host-key", str(keys.host_key), "--authorized-keys", str(keys.authorized_keys)]
    return ManagedProcess(PROCESS_NAME, argv, state_dir, stop_timeout=10)


def sftp_healthy(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when host:port accepts a TCP connection and sends an SSH-2.0 identification line."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            banner = b""
            while b"\n" not in banner and len(banner) < 256:
                chunk = sock.recv(256)
                if not chunk:
                    break
                banner += chunk
    except OSError:
        return False
    return banner.startswith(b"SSH-2.0-")


def start_sftp(host: str, port: int, root: Path, keys_dir: Path, state_dir: Path, timeout: float = 30.0) -> SftpKeys:
    """Start the local SFTP server unless it runs; return its keys once it answers (see the module contract)."""
    keys = ensure_keys(keys_dir)
    prepare_root(root)
    process = sftp_process(host, port, root, keys, state_dir)
    if not process.running():
        if port_open(host, port):
            raise StackError(f"cannot start the SFTP server: {host}:{port} is already taken by another process")
        process.start()
    wait_until(lambda: sftp_healthy(host, port) or not process.running(), timeout, "SFTP server", process.log_file)
    if not process.running():
        tail = process.log_file.read_text(errors="replace").splitlines()[-20:] if process.log_file.exists() else []
        raise StackError(f"the SFTP server exited during start; see {process.log_file}\n" + "\n".join(tail))
    return keys


def stop_sftp(state_dir: Path) -> None:
    """Stop the server started with this `state_dir` (harmless when it does not run)."""
    ManagedProcess(PROCESS_NAME, [], state_dir, stop_timeout=10).stop()
