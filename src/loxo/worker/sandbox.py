"""Sandboxes that run user code: bubblewrap where it works, else plain processes.

With bubblewrap, user code sees the host's files read-only, a private ``/pfs`` (a
tmpfs) whose entries are symlinks into the datum's scratch space (inputs read-only,
``/pfs/out`` writable), and nothing else it can write. One sandbox lives per worker
and runs many datums, because starting one costs 2-3 process starts (DESIGN.md).
Without bubblewrap, commands run as plain processes; ``/pfs`` is then a scratch
directory, found through the environment variables or ``/pfs/`` paths written in the
command and its stdin (rewritten), but not paths built inside user code.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

RUNNER = Path(__file__).with_name("runner_script.py")
_SKIP = {"proc", "dev", "sys", "pfs", "tmp"}
_PFS = re.compile(r"(?<![\w./~})-])/pfs(?![\w.-])")  # /pfs, /pfs/x; not /mnt/pfs, /pfsx


@dataclass(frozen=True)
class RunRequest:
    cmd: tuple[str, ...]
    stdin: tuple[str, ...]
    env: dict[str, str]
    links: dict[str, str]  # /pfs/<name> -> scratch path
    cwd: str | None
    timeout: float | None
    stdout: str
    stderr: str


@dataclass(frozen=True)
class RunResult:
    code: int
    timed_out: bool


@dataclass(frozen=True)
class Program:
    """What every datum of a set runs: the transform, the environment all datums share,
    and the two log files all their output is appended to."""

    cmd: tuple[str, ...]
    stdin: tuple[str, ...]
    env: dict[str, str]
    cwd: str | None
    timeout: float | None
    tries: int
    accept: tuple[int, ...]
    err_cmd: tuple[str, ...]
    err_stdin: tuple[str, ...]
    stdout: str
    stderr: str


@dataclass(frozen=True)
class DatumRun:
    """One datum for a ``Program``: its /pfs links, its own variables, its output dir
    (made by the runner, fresh for each try), and the bytes of input made for it."""

    links: dict[str, str]
    env: dict[str, str]
    out: str
    size: int = 0


@dataclass(frozen=True)
class DatumOutcome:
    """How a datum went: ``state`` is success, failed or recovered; ``logs`` the sizes
    of the stdout and stderr files when it was done (its output ends there)."""

    state: str
    attempts: int
    error: str
    started: float
    finished: float
    logs: tuple[int, int]


class Sandbox(Protocol):
    pfs_root: str
    """Where user code finds its inputs: ``/pfs`` in a sandbox, a scratch dir without."""

    def run(self, req: RunRequest) -> RunResult:
        """Run one command (datum batching's long-lived process)."""

    def run_set(self, program: Program, datums: Iterable[DatumRun]) -> Iterator[DatumOutcome]:
        """Run ``program`` for each datum, back to back, yielding outcomes in order.
        ``datums`` is consumed a few ahead of the outcomes, so a caller that prepares
        each datum lazily never has more than that many prepared at once."""

    def close(self) -> None: ...


AHEAD = 16
"""Datums sent to the runner before their predecessor's outcome is read: the runner
starts the next command at once, while the worker stores or cleans up the last. They
go in batches of ``AHEAD // 2`` (one write), and the runner answers in batches too, so
the worker wakes once every few datums rather than for each: with each worker kept on
one core, its caches are still warm for the next datums of a batch (measured on 2
cores, 10,000 one-process datums: ~7% less time with batches of 4 than one by one, ~4%
less again with 8)."""

AHEAD_BYTES = 64 << 20
"""Past this much input prepared for datums in flight, no more are prepared beyond the
running one and the next: scratch space is RAM, and big datums need no look-ahead."""


def _may_prepare(in_flight: int, held: int) -> bool:
    """Whether one more datum may be prepared: always the running one and the next, then
    up to AHEAD while their inputs stay under AHEAD_BYTES."""
    return in_flight < 2 or (in_flight < AHEAD and held < AHEAD_BYTES)


class _RunnerProcess:
    """Talks to ``runner_script.py`` started by ``argv`` (inside bwrap or not)."""

    def __init__(self, argv: list[str]) -> None:
        # bytes and orjson: the json module's dumps costs ~20 us a datum here
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, req: RunRequest) -> RunResult:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        message = {
            "cmd": list(req.cmd), "stdin": list(req.stdin), "env": req.env,
            "links": req.links, "cwd": req.cwd, "timeout": req.timeout,
            "stdout": req.stdout, "stderr": req.stderr,
        }
        self.proc.stdin.write(orjson.dumps(message) + b"\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"sandbox runner exited with code {self.proc.wait()}")
        reply = orjson.loads(line)
        return RunResult(int(reply["code"]), bool(reply["timed_out"]))

    def run_set(self, program: Program, datums: Iterable[DatumRun]) -> Iterator[DatumOutcome]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        send, flush, receive = self.proc.stdin.write, self.proc.stdin.flush, self.proc.stdout.readline
        header: dict[str, Any] = {
            "op": "set", "cmd": list(program.cmd), "stdin": list(program.stdin),
            "env": program.env, "cwd": program.cwd, "timeout": program.timeout,
            "tries": program.tries, "accept": list(program.accept),
            "err_cmd": list(program.err_cmd), "err_stdin": list(program.err_stdin),
            "stdout": program.stdout, "stderr": program.stderr,
        }
        send(orjson.dumps(header) + b"\n")
        source = iter(datums)
        sizes: deque[int] = deque()  # input bytes of each datum in flight
        held = sent = 0
        half = AHEAD // 2
        # Replies are a few hundred bytes and at most AHEAD are unread, so the runner
        # never blocks writing them while this process blocks writing requests.
        try:
            while True:
                if len(sizes) <= half:
                    while _may_prepare(len(sizes), held) and (d := next(source, None)) is not None:
                        sizes.append(d.size)
                        held += d.size
                        sent += 1
                        # answered at once when it ends a batch, or while few are in flight
                        # (big inputs): the next datums' preparing must not wait for it
                        now = sent % half == 0 or len(sizes) <= half
                        send(orjson.dumps({"op": "datum", "links": d.links, "env": d.env,
                                           "out": d.out, "answer": now}) + b"\n")
                    flush()
                if not sizes:
                    return
                line = receive()
                if not line:
                    raise RuntimeError(f"sandbox runner exited with code {self.proc.wait()}")
                held -= sizes.popleft()
                r = orjson.loads(line)
                yield DatumOutcome(r["state"], r["attempts"], r["error"], r["started"],
                                   r["finished"], (r["logs"][0], r["logs"][1]))
        finally:
            # Stopped early (preparing a datum failed, or the caller gave up): read the
            # answers still owed, so the next request is not answered with a stale one.
            with contextlib.suppress(OSError):
                flush()
            while sizes and receive():
                sizes.popleft()

    def close(self) -> None:
        stdin: IO[bytes] | None = self.proc.stdin
        if stdin is not None:
            stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class BwrapSandbox(_RunnerProcess):
    """User code in bubblewrap: host read-only, private /pfs, writable scratch only."""

    pfs_root = "/pfs"

    def __init__(self, scratch: Path, bwrap: str) -> None:
        super().__init__([*bwrap_argv(bwrap, scratch), sys.executable, "-I", "-S", str(RUNNER)])


class PlainSandbox(_RunnerProcess):
    """No isolation: ``/pfs`` is a directory of symlinks inside the scratch space, and
    ``/pfs/`` written literally in the command or its stdin is pointed there too."""

    def __init__(self, scratch: Path) -> None:
        self.pfs_root = str(scratch / "pfs")
        super().__init__([sys.executable, "-I", "-S", str(RUNNER)])

    def _fix(self, text: str) -> str:
        return _PFS.sub(lambda _: self.pfs_root, text)

    def run(self, req: RunRequest) -> RunResult:
        links = {self.pfs_root + k.removeprefix("/pfs"): v for k, v in req.links.items()}
        fixed = RunRequest(
            tuple(self._fix(a) for a in req.cmd), tuple(self._fix(line) for line in req.stdin),
            req.env, links, req.cwd, req.timeout, req.stdout, req.stderr,
        )
        return super().run(fixed)

    def run_set(self, program: Program, datums: Iterable[DatumRun]) -> Iterator[DatumOutcome]:
        fixed = replace(
            program, cmd=tuple(self._fix(a) for a in program.cmd),
            stdin=tuple(self._fix(line) for line in program.stdin),
            err_cmd=tuple(self._fix(a) for a in program.err_cmd),
            err_stdin=tuple(self._fix(line) for line in program.err_stdin),
        )
        root = self.pfs_root
        moved = (replace(d, links={root + k.removeprefix("/pfs"): v for k, v in d.links.items()})
                 for d in datums)
        return super().run_set(fixed, moved)


def bwrap_argv(bwrap: str, scratch: Path) -> list[str]:
    """A tmpfs root with the host's top-level directories bound read-only, plus /pfs."""
    argv = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--cap-drop", "ALL",  # run by root, bwrap keeps its capabilities (remount rw ...)
            "--tmpfs", "/"]
    for entry in sorted(os.scandir("/"), key=lambda e: e.name):
        if entry.name in _SKIP:
            continue
        if entry.is_symlink():
            argv += ["--symlink", os.readlink(entry.path), entry.path]
        elif entry.is_dir():
            argv += ["--ro-bind", entry.path, entry.path]
    argv += ["--dev", "/dev", "--proc", "/proc", "--dir", "/pfs", "--tmpfs", "/tmp"]
    for path in _under_tmp():  # the private /tmp must not hide what commands run from
        argv += ["--ro-bind", path, path]
    argv += ["--ro-bind", str(scratch / "in"), str(scratch / "in")]
    argv += ["--bind", str(scratch / "out"), str(scratch / "out")]
    argv += ["--bind", str(scratch / "logs"), str(scratch / "logs")]
    return argv


def _under_tmp() -> list[str]:
    """Host paths under /tmp that user code needs: the working directory (specs name
    scripts relative to it), the Python running loxo, and loxo itself (the runner, and
    ``loxo.batch`` for user code)."""
    package_home = str(RUNNER.resolve().parents[2])  # the directory holding ``loxo/``
    wanted = {os.getcwd(), sys.prefix, sys.base_prefix, package_home,
              os.path.dirname(os.path.realpath(sys.executable))}
    found = sorted(os.path.realpath(p) for p in wanted)
    kept = [p for p in found if p == "/tmp" or p.startswith("/tmp/")]
    # a path inside another kept one is already visible
    return [p for p in kept if not any(p != q and p.startswith(q + "/") for q in kept) and p != "/tmp"]


def _bwrap_works(bwrap: str, scratch: Path) -> bool:
    try:
        done = subprocess.run(
            [*bwrap_argv(bwrap, scratch), "/bin/sh", "-c", "test -d /pfs && ! touch /usr/.loxo"],
            capture_output=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def open_sandbox(scratch: Path, use_bwrap: bool = True) -> tuple[Sandbox, str | None]:
    """The best sandbox available, and a one-line warning when it is not bubblewrap."""
    for sub in ("in", "out", "logs"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
    bwrap = shutil.which("bwrap") if use_bwrap else None
    if bwrap is not None and _bwrap_works(bwrap, scratch):
        return BwrapSandbox(scratch, bwrap), None
    why = "bubblewrap is not installed" if bwrap is None else "bubblewrap does not work here"
    if not use_bwrap:
        why = "the sandbox is turned off"
    warning = (f"warning: {why}; user code runs unsandboxed, with /pfs paths pointed at "
               "scratch directories")
    return PlainSandbox(scratch), warning
