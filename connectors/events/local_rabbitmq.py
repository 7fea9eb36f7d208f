"""A RabbitMQ node of our own: Debian's `rabbitmq-server` run as a local process with all state in one directory.

Contract: `LocalRabbitMQ(base_dir, amqp_port, dist_port, epmd_port).start()` writes its config under `base_dir`,
starts a private `epmd` (on `epmd_port`, loopback only) and the broker (AMQP and Erlang distribution on
127.0.0.1 only), and returns once the broker answers the AMQP handshake; it raises `StackError` (with the
log's tail) if the broker dies or is not ready within `startup_timeout`. `stop()` shuts the broker down
cleanly (SIGTERM: queues and persistent messages are flushed), then stops epmd, and makes sure no process of
this node is left. Both are idempotent, and a `start()` after `stop()` on the same directory brings back the
same node with its durable queues and persistent messages. Nothing touches /etc/rabbitmq or /var/lib/rabbitmq,
and the system's epmd on 4369 is never used, so several nodes (tests, `make run`) can run side by side.

Also a command line for `make run`: `python -m connectors.events.local_rabbitmq start|stop|status --dir DIR`
(AMQP port, user and password from `EventsSettings`, i.e. `LG_EVENTS_AMQP_URL` / `LG_EVENTS_PASSWORD`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr
from yarl import URL

from connectors.events.settings import EventsSettings
from infra.process import ManagedProcess, StackError, pid_alive

# The Debian package's real start script; /usr/sbin/rabbitmq-server is a wrapper that switches to the
# `rabbitmq` user and to /var/lib/rabbitmq, which would defeat a private state directory.
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
_CONNECTION_START = b"\x00\x0a\x00\x0a"  # class 10 (connection), method 10 (start)


def amqp_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when host:port speaks AMQP 0-9-1: it answers our protocol header with Connection.Start."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_AMQP_HEADER)
            reply = b""
            while len(reply) < 11:
                chunk = sock.recv(11 - len(reply))
                if not chunk:
                    return False
                reply += chunk
    except OSError:
        return False
    # Frame header: type 1 (method), channel 0, 4-byte size; then the method's class and id.
    return reply[0] == 1 and reply[7:11] == _CONNECTION_START


@dataclass
class LocalRabbitMQ:
    """One local broker node. `nodename` must be unique per machine; its data lives in `base_dir/mnesia`."""

    base_dir: Path
    amqp_port: int
    dist_port: int
    epmd_port: int
    nodename: str = "rabbit-luckygas@localhost"
    user: str = "luckygas"
    password: SecretStr = field(default_factory=lambda: SecretStr("luckygas-local"))
    startup_timeout: float = 90.0
    host: str = "127.0.0.1"

    @classmethod
    def for_settings(
        cls,
        settings: EventsSettings,
        base_dir: Path,
        dist_port: int,
        epmd_port: int,
        nodename: str = "rabbit-luckygas@localhost",
    ) -> LocalRabbitMQ:
        """The node that `settings` point at (its port, user and password), e.g. for `make run`."""
        url = URL(settings.amqp_url)
        if url.host != "127.0.0.1" or url.port is None or not url.user:
            raise StackError(f"{settings.amqp_url} is not a local broker URL (amqp://user@127.0.0.1:PORT/)")
        return cls(base_dir, url.port, dist_port, epmd_port, nodename, url.user, settings.password)

    @property
    def amqp_url(self) -> str:
        """The broker's URL without the password (pass that separately, e.g. as `EventsSettings.password`)."""
        return f"amqp://{self.user}@{self.host}:{self.amqp_port}/"

    @property
    def log_file(self) -> Path:
        """The broker's own log (RabbitMQ writes `<nodename>.log` under its log base)."""
        return self.base_dir / "logs" / f"{self.nodename}.log"

    def _epmd(self) -> ManagedProcess:
        epmd = shutil.which("epmd") or "/usr/bin/epmd"
        argv = [epmd, "-port", str(self.epmd_port), "-address", self.host]
        return ManagedProcess("epmd", argv, self.base_dir, stop_timeout=5.0)

    def _broker(self) -> ManagedProcess:
        env = {
            "HOME": str(self.base_dir / "home"),  # the Erlang cookie lives here
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": self.host,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base_dir / "logs"),
            "RABBITMQ_CONFIG_FILE": str(self.base_dir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.base_dir / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base_dir / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base_dir / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(self.base_dir / "run" / "beam.pid"),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": self.host,
            # Erlang distribution listens on all interfaces unless told otherwise.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": f"-kernel inet_dist_use_interface {{{self.host.replace('.', ',')}}}",
        }
        return ManagedProcess(
            "rabbitmq", [str(RABBITMQ_SERVER)], self.base_dir, env=env, cwd=self.base_dir, stop_timeout=60.0
        )

    def _write_config(self) -> None:
        """rabbitmq.conf and friends; rewritten on every start so a changed port or password takes effect."""
        for sub in ("home", "mnesia", "logs", "run"):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        conf = self.base_dir / "rabbitmq.conf"
        conf.touch(mode=0o600)
        conf.chmod(0o600)  # before the password is written into it
        conf.write_text(
            f"listeners.tcp.default = {self.host}:{self.amqp_port}\n"
            # The first boot creates this user (administrator, vhost "/"); later boots keep the stored one.
            f"default_user = {self.user}\n"
            f"default_pass = {self.password.get_secret_value()}\n"
            "log.console = false\n"
            "log.file.level = info\n"
            "disk_free_limit.absolute = 50MB\n"
        )
        # No plugins (no management UI): an empty plugin list keeps the node small and fast to boot.
        (self.base_dir / "enabled_plugins").write_text("[].\n")
        (self.base_dir / "rabbitmq-env.conf").write_text("# all settings come from the environment\n")

    def running(self) -> bool:
        """True when the broker process is alive (it may still be booting)."""
        return self._broker().running()

    def ready(self) -> bool:
        """True when the broker answers the AMQP handshake on its port."""
        return amqp_answers(self.host, self.amqp_port)

    def start(self) -> None:
        """Start epmd and the broker unless running; return when AMQP answers (StackError otherwise)."""
        if not RABBITMQ_SERVER.exists():
            raise StackError(f"{RABBITMQ_SERVER} is missing: run `apt-get install -y rabbitmq-server`")
        self._write_config()
        epmd = self._epmd()
        epmd.start()
        self._wait(lambda: _port_answers(self.host, self.epmd_port), epmd, 10.0, "epmd")
        broker = self._broker()
        broker.start()
        self._wait(self.ready, broker, self.startup_timeout, f"RabbitMQ {self.nodename}")

    def _wait(self, check: Callable[[], bool], proc: ManagedProcess, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if not proc.running():
                raise StackError(f"{what} exited during startup{self._tail(proc)}")
            time.sleep(0.2)
        raise StackError(f"{what} did not become ready within {timeout:.0f}s{self._tail(proc)}")

    def _tail(self, proc: ManagedProcess) -> str:
        tails = []
        for log in (proc.log_file, self.log_file):
            if log.exists():
                lines = log.read_text(errors="replace").splitlines()[-25:]
                tails.append(f"\n--- last lines of {log} ---\n" + "\n".join(lines))
        return "".join(tails)

    def leftovers(self) -> list[str]:
        """What of this node still runs (empty after a complete `stop()`)."""
        left = [f"pid {pid}" for pid in self.node_pids()]
        return left + ["epmd"] * self._epmd().running()

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run `rabbitmqctl` against this node (e.g. `ctl("list_queues", "name", "messages")`); its stdout.
        Raises StackError when it fails."""
        env = {
            **os.environ,
            "HOME": str(self.base_dir / "home"),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_CONF_ENV_FILE": str(self.base_dir / "rabbitmq-env.conf"),
        }
        argv = [str(RABBITMQ_SERVER.with_name("rabbitmqctl")), "-n", self.nodename, "-q", *args]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise StackError(f"rabbitmqctl {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        """Stop the broker cleanly, then epmd; kill any process of this node that outlived its shell."""
        self._broker().stop()
        for pid in self.node_pids():
            _kill_and_wait(pid)
        self._epmd().stop()

    def node_pids(self) -> list[int]:
        """Live processes of this node (beam, erl_child_setup, helpers): they carry its RABBITMQ_NODENAME in
        their environment (the node name is not on the beam's command line)."""
        marker = f"RABBITMQ_NODENAME={self.nodename}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0") and pid_alive(int(entry.name)):
                    found.append(int(entry.name))
        return found


def free_loopback_ports(count: int) -> list[int]:
    """`count` distinct ports nothing listens on right now on 127.0.0.1 (for tests and throwaway nodes)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _kill_and_wait(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.2)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> None:
    """`start`, `stop` or `status` of a node whose state lives in `--dir`."""
    parser = argparse.ArgumentParser(description="a local RabbitMQ node with its state in one directory")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--dist-port", type=int, default=25692)
    parser.add_argument("--epmd-port", type=int, default=24369)
    parser.add_argument("--nodename", default="rabbit-luckygas@localhost")
    args = parser.parse_args(argv)
    # Port, user and password come from LG_EVENTS_AMQP_URL / LG_EVENTS_PASSWORD, as the clients use them.
    node = LocalRabbitMQ.for_settings(
        EventsSettings(), args.dir.resolve(), args.dist_port, args.epmd_port, args.nodename
    )
    if args.action == "start":
        node.start()
        print(f"RabbitMQ ready at {node.amqp_url} (log: {node.log_file})")
    elif args.action == "stop":
        node.stop()
    else:
        print("ready" if node.ready() else "running, not ready" if node.running() else "stopped")


if __name__ == "__main__":
    main()
