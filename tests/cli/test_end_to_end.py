"""The real ``loxo`` console script, as a process: the workshop, pipes, exit codes, Ctrl-C."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

Proc = Callable[..., subprocess.CompletedProcess[bytes]]

pytestmark = pytest.mark.slow


def test_workshop_with_the_real_command(process: Proc, workdir: Path) -> None:
    def loxo(line: str) -> bytes:
        done = process(*shlex.split(line), cwd=workdir)
        assert done.returncode == 0, (line, done.stderr)
        assert done.stderr == b""
        return done.stdout

    loxo("create-repo training")
    loxo("put-file training master iris.csv -f data/iris.csv")
    assert loxo("list-file training master").split()[3:] == [b"/iris.csv", b"file", b"4.308KiB"]
    assert loxo("get-file training master iris.csv") == (workdir / "data" / "iris.csv").read_bytes()
    loxo("put-file training master iris.csv -c -o -f data/iris.csv")
    rows = loxo("list commit training@master").splitlines()[1:]
    assert len(rows) == 2
    block = loxo(f"inspect-commit training {rows[0].split()[2].decode()}")
    assert b"Parent: " + rows[1].split()[2] in block


def test_stdin_pipe_and_exit_codes(process: Proc, ok: Callable[..., str], tmp_path: Path) -> None:
    ok("create", "repo", "r")  # set up in-process; the same store as the processes below
    done = process("put", "file", "r@master:/x.bin", cwd=tmp_path, input=b"\x00\xff binary")
    assert done.returncode == 0, done.stderr
    assert process("get", "file", "r@master:/x.bin", cwd=tmp_path).stdout == b"\x00\xff binary"
    bad = process("put", "file", "r@master:/a\x01b", "-f", str(tmp_path), cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.decode().count("\n") == 1 and bad.stderr.startswith(b"error: ")
    usage = process("list", "file", cwd=tmp_path)
    assert usage.returncode == 2 and b"Traceback" not in usage.stderr
    assert len(ok("list", "commit", "r", "--raw").split('"id"')) == 2  # only the one put


def test_default_home_is_dot_loxo(loxo_bin: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LOXO_HOME"}
    done = subprocess.run([str(loxo_bin), "create-repo", "here"], cwd=tmp_path, env=env,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".loxo" / "loxo.db").exists()


def test_ctrl_c_exits_130_with_one_line(
    ok: Callable[..., str], loxo_bin: Path, home: Path, tmp_path: Path
) -> None:
    ok("create", "repo", "r")
    commit_id = ok("start", "commit", "r@master").strip()
    waiter = subprocess.Popen(
        [str(loxo_bin), "wait", "commit", f"r@{commit_id}"], cwd=tmp_path,
        env={**os.environ, "LOXO_HOME": str(home)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    _until_store_open(waiter.pid, home)  # it is inside the command, waiting
    time.sleep(0.2)
    assert waiter.poll() is None
    waiter.send_signal(signal.SIGINT)
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 130
    assert err.decode().strip().splitlines() == ["interrupted"]
    assert out == b""


def _until_store_open(pid: int, home: Path, limit: float = 30.0) -> None:
    """Wait until process ``pid`` has the store's database open (Linux /proc)."""
    deadline = time.monotonic() + limit
    db = str(home / "loxo.db")
    while time.monotonic() < deadline:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == db for fd in fds):
                return
        except OSError:
            pass
        time.sleep(0.05)
    pytest.fail("loxo wait commit never opened the store")
