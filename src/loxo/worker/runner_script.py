"""Runs inside the sandbox, one per worker; stdlib only, so it starts fast.

Reads one JSON request per line on stdin. Three kinds:

- ``{"op": "run", ...}`` (or no ``op``): run one command: ``links`` (paths under /pfs to
  point at scratch directories), ``cmd``, ``stdin``, ``env``, ``cwd``, ``timeout``,
  ``stdout``/``stderr`` (files to append the user's output to). Answers
  ``{"code": int, "timed_out": bool}``. Datum batching uses this for its one process.
- ``{"op": "set", ...}``: the program every following datum runs: the fields above
  (``env`` is the part shared by all datums) plus ``tries``, ``accept``, ``err_cmd``,
  ``err_stdin``. No answer. The log files stay open until the next ``set``.
- ``{"op": "datum", "links": {...}, "env": {...}, "out": dir, "answer": bool}``: run the
  program for one datum: ``out`` is made fresh for each try (up to ``tries``), then
  ``err_cmd`` runs if every try failed. Answers ``{"state", "attempts", "error", "started", "finished",
  "logs": [stdout size, stderr size]}``: the log files' sizes when it was done, so the
  worker can tell which bytes this datum printed without a file per datum.

Answers are held back until a datum asks for them (``"answer": true``, the last of a
batch the worker sent, or every datum when few are in flight) and always sent before this
process waits for the next request: the worker wakes once per batch, not per datum.

Commands start through ``posix_spawn`` (a vfork-like clone, no copy of this process) in a
session of their own, so a timeout kills everything they started.
"""

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

_PIPE_BUF = 65536  # stdin up to this size fits a fresh pipe before the command starts
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)  # Python ignores these; children must not


def _relink(links: dict[str, str], current: dict[str, str]) -> None:
    for link, target in links.items():
        if current.get(link) == target:
            continue
        try:
            os.unlink(link)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(target, link)
        current[link] = target


def _which(name: str, path: str, found: dict[tuple[str, str], str]) -> str:
    """``name`` looked up on the command's own ``PATH`` (``posix_spawnp`` would use ours)."""
    if "/" in name:
        return name
    key = (name, path)
    hit = found.get(key)
    if hit is None:
        hit = name
        for folder in path.split(os.pathsep):
            candidate = os.path.join(folder or ".", name)
            if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
                hit = candidate
                break
        found[key] = hit
    return hit


class Runner:
    """Runs commands with their output appended to log files."""

    def __init__(self) -> None:
        self.links: dict[str, str] = {}
        self.found: dict[tuple[str, str], str] = {}
        self.program: dict[str, Any] = {}
        self.logs: tuple[int, int] | None = None
        self.home = os.getcwd()
        # no stdin: /dev/null (EOF at once, like an empty pipe) saves four system calls
        self.null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    def run_one(self, req: dict[str, Any]) -> dict[str, Any]:
        _relink(req.get("links", {}), self.links)
        with open(req["stdout"], "ab") as out, open(req["stderr"], "ab") as err:
            code, timed_out = self.spawn_and_wait(
                req["cmd"], req.get("stdin", []), req["env"], req.get("cwd"), req.get("timeout"),
                out.fileno(), err.fileno())
        return {"code": code, "timed_out": timed_out}

    def start_set(self, req: dict[str, Any]) -> None:
        self.end_set()
        self.program = req
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self.logs = (os.open(req["stdout"], flags, 0o644), os.open(req["stderr"], flags, 0o644))

    def end_set(self) -> None:
        if self.logs is not None:
            for fd in self.logs:
                os.close(fd)
            self.logs = None

    def run_datum(self, req: dict[str, Any]) -> dict[str, Any]:
        p, logs = self.program, self.logs
        assert logs is not None
        _relink(req["links"], self.links)
        env = dict(p["env"])
        env.update(req["env"])
        out = req["out"]
        started = time.time()
        tries = max(1, p.get("tries", 1))
        state, error, attempts = "failed", "", 0
        while state == "failed" and attempts < tries:
            attempts += 1
            _fresh(out)
            code, timed_out = self.spawn_and_wait(
                p["cmd"], p.get("stdin", []), env, p.get("cwd"), p.get("timeout"), *logs)
            if not timed_out and (code == 0 or code in p.get("accept", [])):
                state = "success"
            else:
                error = (f"timed out after {p.get('timeout')} s" if timed_out
                         else f"exited with code {code}")
        if state == "failed":
            error = f"{error} (tried {tries} times)"
            if p.get("err_cmd"):
                code, timed_out = self.spawn_and_wait(
                    p["err_cmd"], p.get("err_stdin", []), env, p.get("cwd"), p.get("timeout"), *logs)
                if not timed_out and code == 0:
                    state = "recovered"
        sizes = [os.fstat(fd).st_size for fd in logs]
        return {"state": state, "attempts": attempts, "error": error, "started": started,
                "finished": time.time(), "logs": sizes}

    def spawn_and_wait(
        self, cmd: list[str], stdin: list[str], env: dict[str, str], cwd: str | None,
        timeout: float | None, out: int, err: int,
    ) -> tuple[int, bool]:
        """Run ``cmd`` to its end: (exit code, timed out). 127 if it cannot start."""
        data = "".join(line + "\n" for line in stdin).encode()
        if len(data) > _PIPE_BUF:  # would block before the command reads: let Popen feed it
            return _popen_and_wait(cmd, data, env, cwd, timeout, out, err)
        try:
            pid = self._spawn(cmd, data, env, cwd, out, err)
        except OSError as exc:
            os.write(err, f"cannot start {cmd[0]!r}: {exc}\n".encode())
            return 127, False
        return _wait(pid, timeout)

    def _spawn(self, cmd: list[str], data: bytes, env: dict[str, str], cwd: str | None,
               out: int, err: int) -> int:
        read, write = os.pipe() if data else (self.null, -1)
        try:
            if write >= 0:
                os.write(write, data)
                os.close(write)
                write = -1
            if cwd:  # posix_spawn has no chdir here: the child inherits ours (one thread)
                os.chdir(cwd)
            exe = _which(cmd[0], env.get("PATH", os.defpath), self.found)
            return os.posix_spawn(
                exe, cmd, env, setsid=True, setsigdef=_DEFAULT_SIGNALS,
                file_actions=[(os.POSIX_SPAWN_DUP2, read, 0), (os.POSIX_SPAWN_DUP2, out, 1),
                              (os.POSIX_SPAWN_DUP2, err, 2)],
            )
        finally:
            if read != self.null:
                os.close(read)
            if write >= 0:
                os.close(write)
            if cwd:
                os.chdir(self.home)


def _fresh(out: str) -> None:
    """An empty ``out`` directory (a retry must not see what the failed try wrote)."""
    try:
        os.mkdir(out)
    except FileExistsError:
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out, exist_ok=True)


def _wait(pid: int, timeout: float | None) -> tuple[int, bool]:
    if timeout is not None and not _exits_within(pid, timeout):
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return -9, True
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), False


def _exits_within(pid: int, timeout: float) -> bool:
    """Wait for ``pid`` to exit (without reaping it) up to ``timeout`` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # old kernel: poll for it
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
            time.sleep(0.005)
        return False
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(max(0.0, timeout) * 1000))
    finally:
        os.close(fd)


def _popen_and_wait(cmd: list[str], data: bytes, env: dict[str, str], cwd: str | None,
                    timeout: float | None, out: int, err: int) -> tuple[int, bool]:
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env,
                                cwd=cwd or None, start_new_session=True)
    except OSError as exc:
        os.write(err, f"cannot start {cmd[0]!r}: {exc}\n".encode())
        return 127, False
    try:
        proc.communicate(data, timeout=timeout)
        return proc.returncode, False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return -9, True


def _no_inherited_fds() -> None:
    """Whatever this process was handed beyond stdio must not reach user code."""
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):  # the listing's own descriptor, now closed
                os.set_inheritable(fd, False)


def _lines(fd: int, idle: Callable[[], None]) -> Iterator[bytes]:
    """The lines read from ``fd`` (bytes: requests are UTF-8 whatever the locale says);
    ``idle`` is called before each read, which may wait for the next request."""
    buf = b""
    while True:
        end = buf.find(b"\n")
        if end >= 0:
            yield buf[:end]
            buf = buf[end + 1:]
            continue
        idle()
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            if buf:
                yield buf
            return
        buf += chunk


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def main() -> None:
    _no_inherited_fds()
    runner = Runner()
    replies: list[bytes] = []

    def answer() -> None:
        if replies:
            _write_all(1, b"".join(replies))
            replies.clear()

    for line in _lines(0, answer):  # answers every pending one before each wait
        if not line.strip():
            continue
        req = json.loads(line)
        op = req.get("op", "run")
        if op == "set":
            runner.start_set(req)
            continue
        reply = runner.run_datum(req) if op == "datum" else runner.run_one(req)
        replies.append(json.dumps(reply).encode() + b"\n")
        if req.get("answer", True):
            answer()
    answer()


if __name__ == "__main__":
    main()
