"""A real MinIO server on loopback, for tests, `make run` and benchmarks of the S3 path.

The binary is built from source by `make tools` (`go install github.com/minio/minio@$MINIO_VERSION`,
version pinned in versions.env) into `<repo>/.cache/bin/minio`; `DTMON_MINIO_BIN` overrides
the location. No S3 mock: the producer's S3 source is exercised against the same server
software the Kubernetes deployment runs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from devstack.paths import cache_dir
from devstack.ports import free_port
from devstack.processes import spawn, stop

if TYPE_CHECKING:
    from minio import Minio

MINIO_BIN_ENV = "DTMON_MINIO_BIN"


class MinioNotInstalled(RuntimeError):
    """The minio binary is missing; the message says how to build it."""


def minio_binary() -> Path:
    """Where the server binary is: $DTMON_MINIO_BIN, else <repo>/.cache/bin/minio."""
    override = os.environ.get(MINIO_BIN_ENV)
    path = Path(override) if override else cache_dir() / "bin" / "minio"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise MinioNotInstalled(
            f"minio server binary not found at {path}: run `make tools` "
            f"(or set {MINIO_BIN_ENV} to an executable minio binary)"
        )
    return path


class MinioServer:
    """One `minio server` process with its own data directory and generated root credentials.

    Ports are chosen free at start so parallel test sessions never collide; the console is
    bound to loopback as well so nothing is exposed beyond the machine.
    """

    def __init__(self, data_dir: Path | None = None, *, host: str = "127.0.0.1") -> None:
        self._own_dir = data_dir is None
        self.data_dir = (
            Path(tempfile.mkdtemp(prefix="dtmon-minio-")) if data_dir is None else data_dir
        )
        self.host = host
        self.port = 0
        self.console_port = 0
        self.access_key = "dtmon" + secrets.token_hex(4)
        self.secret_key = secrets.token_hex(20)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """host:port, the form the minio client and `dtmon-producer --s3-endpoint` take."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def env(self) -> dict[str, str]:
        """The AWS-style credential variables an S3 client in a subprocess reads."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def start(self, timeout: float = 60.0) -> MinioServer:
        """Start the server and block until /minio/health/live answers 200."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        binary = minio_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port, self.console_port = free_port(self.host), free_port(self.host)
        env = dict(os.environ)
        env.update(
            MINIO_ROOT_USER=self.access_key,
            MINIO_ROOT_PASSWORD=self.secret_key,
            MINIO_BROWSER="off",
            MINIO_UPDATE="off",
        )
        argv = [
            str(binary),
            "server",
            str(self.data_dir),
            "--address",
            self.endpoint,
            "--console-address",
            f"{self.host}:{self.console_port}",
            "--quiet",
        ]
        self._proc = spawn(argv, log=self.log_path, env=env)
        self._wait_live(timeout)
        return self

    def _wait_live(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        health = f"{self.url}/minio/health/live"
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"minio exited with code {self._proc.returncode} at start; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(health, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"minio not live at {health} after {timeout:.0f}s; see {self.log_path}")

    def client(self) -> Minio:
        """A minio client with the root credentials (imported lazily: optional dependency)."""
        from minio import Minio

        return Minio(
            self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period: no process left behind."""
        if self._proc is not None:
            stop(self._proc, timeout=15)
            self._proc = None

    def cleanup(self) -> None:
        """Stop and remove the data directory when this object created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> MinioServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
