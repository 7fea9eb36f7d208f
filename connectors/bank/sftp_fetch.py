"""SFTP side of the bank connector: pinned-host-key login, stable-file listing, download, archive move.

Contracts:
- `open_sftp` trusts exactly the pinned host key(s) from the settings (no ~/.ssh/known_hosts, no ssh
  config, no agent, no X.509 or CA trust) and logs in with the configured private key only. A server with
  another key raises `HostKeyRejected` before any credential is sent; other failures raise `BankSftpError`.
- `find_stable_files` looks at the inbox twice, `delay` seconds apart, and returns only regular files whose
  size and mtime did not change (and are not empty): a file the bank is still writing is left for later.
  Dot files (uploads in progress, by convention) are never listed.
- `download` re-checks size and mtime after reading and raises `RemoteFileChanged` if the file moved on.
- `move_remote` renames without overwriting (SFTP v3 rename), creating the target directory if needed.
"""

from __future__ import annotations

import fnmatch
import posixpath
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncssh

from connectors.bank.errors import BankSftpError, HostKeyRejected
from connectors.bank.settings import BankSettings

Sleep = Callable[[float], Awaitable[None]]
_KEY_TYPE_PREFIXES = ("ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-")


class RemoteFileChanged(BankSftpError):
    """A file changed between the stability check and the end of its download."""


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file in the remote inbox as seen by one look (mtime in whole seconds, as SFTP v3 reports it)."""

    name: str
    path: str
    size: int
    mtime: int


def pinned_host_keys(text: str) -> list[asyncssh.SSHKey]:
    """The public keys in OpenSSH public-key or known_hosts lines (host patterns ignored: the key is the pin).

    Raises `ValueError` when there is no key, or on @cert-authority / @revoked lines (we pin keys, not CAs).
    """
    keys: list[asyncssh.SSHKey] = []
    for line in text.splitlines():
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if tokens[0].startswith("@"):
            raise ValueError(f"{tokens[0]} lines are not accepted: pin the server's host key itself")
        starts = [i for i, token in enumerate(tokens[:-1]) if token.startswith(_KEY_TYPE_PREFIXES)]
        if not starts:
            raise ValueError(f"no public key in host key line {line[:60]!r}")
        keys.append(asyncssh.import_public_key(f"{tokens[starts[0]]} {tokens[starts[0] + 1]}"))
    if not keys:
        raise ValueError("the pinned host key setting holds no key")
    return keys


def _connect_options(settings: BankSettings) -> dict[str, object]:
    passphrase = settings.private_key_passphrase
    client_key = asyncssh.read_private_key(
        settings.private_key_path, passphrase.get_secret_value() if passphrase else None
    )
    return {
        "port": settings.sftp_port,
        "username": settings.sftp_username,
        "client_keys": [client_key],
        # (trusted host keys, trusted CA keys, revoked keys): only the pin, nothing from ~/.ssh.
        "known_hosts": (pinned_host_keys(settings.pinned_host_key_text()), [], []),
        "x509_trusted_certs": None,
        "agent_path": None,
        "config": [],
        "preferred_auth": "publickey",
        "connect_timeout": settings.connect_timeout_s,
    }


@asynccontextmanager
async def open_sftp(settings: BankSettings) -> AsyncIterator[asyncssh.SFTPClient]:
    """An SFTP session to the bank, closed on exit; see the module contract for the errors raised."""
    options = _connect_options(settings)
    try:
        conn = await asyncssh.connect(settings.sftp_host, **options)
    except asyncssh.HostKeyNotVerifiable as exc:
        raise HostKeyRejected(
            f"{settings.sftp_host}:{settings.sftp_port} presented a host key other than the pinned one"
        ) from exc
    except (asyncssh.Error, OSError) as exc:
        raise BankSftpError(f"cannot log in to {settings.sftp_host}:{settings.sftp_port}: {exc}") from exc
    try:
        async with conn.start_sftp_client() as sftp:
            yield sftp
    finally:
        conn.close()
        await conn.wait_closed()


def _is_regular(attrs: asyncssh.SFTPAttrs) -> bool:
    if attrs.type != asyncssh.FILEXFER_TYPE_UNKNOWN:
        return bool(attrs.type == asyncssh.FILEXFER_TYPE_REGULAR)
    return attrs.permissions is not None and stat.S_ISREG(attrs.permissions)


async def list_inbox(sftp: asyncssh.SFTPClient, inbox: str, pattern: str) -> dict[str, RemoteFile]:
    """One look at the regular files in `inbox` whose names match the glob `pattern`."""
    files: dict[str, RemoteFile] = {}
    for entry in await sftp.readdir(inbox):
        name = str(entry.filename)
        # Dot files are uploads in progress by convention (written under a temporary name, then renamed).
        if name.startswith(".") or not fnmatch.fnmatchcase(name, pattern) or not _is_regular(entry.attrs):
            continue
        files[name] = RemoteFile(name, posixpath.join(inbox, name), int(entry.attrs.size or 0),
                                 int(entry.attrs.mtime or 0))
    return files


async def find_stable_files(
    sftp: asyncssh.SFTPClient, inbox: str, pattern: str, delay_s: float, sleep: Sleep
) -> tuple[list[RemoteFile], list[str]]:
    """(files stable across two looks `delay_s` apart, names of files left alone), both sorted by name."""
    first = await list_inbox(sftp, inbox, pattern)
    if not first:
        return [], []
    await sleep(delay_s)
    second = await list_inbox(sftp, inbox, pattern)
    stable = [f for name, f in sorted(second.items()) if first.get(name) == f and f.size > 0]
    stable_names = {f.name for f in stable}
    unstable = sorted(name for name in second if name not in stable_names)
    return stable, unstable


async def download(sftp: asyncssh.SFTPClient, remote: RemoteFile) -> bytes:
    """The file's bytes; raises `RemoteFileChanged` if it is not the file the stability check saw."""
    async with sftp.open(remote.path, "rb") as fh:
        data = await fh.read()
    if not isinstance(data, bytes):  # "rb" gives bytes; this narrows asyncssh's AnyStr
        raise TypeError("binary SFTP read returned text")
    after = await sftp.stat(remote.path)
    if len(data) != remote.size or after.size != remote.size or int(after.mtime or 0) != remote.mtime:
        raise RemoteFileChanged(f"{remote.path} changed while it was being fetched")
    return data


async def move_remote(sftp: asyncssh.SFTPClient, remote: RemoteFile, target_dir: str, new_name: str) -> str:
    """Move the file to `target_dir/new_name` on the server (never overwriting); returns the new path."""
    await sftp.makedirs(target_dir, exist_ok=True)
    target = posixpath.join(target_dir, new_name)
    await sftp.rename(remote.path, target)
    return target
