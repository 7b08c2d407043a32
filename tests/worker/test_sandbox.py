"""The sandbox user code runs in: bubblewrap (host read-only, private /pfs and /tmp, no
capabilities) and the plain-process fallback (``/pfs`` paths in the command and its
stdin rewritten, a one-line warning). Driven directly and through whole jobs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import loxo
from loxo.model.jobs import JobState
from loxo.worker import sandbox as sb
from loxo.worker.sandbox import RunRequest, Sandbox, open_sandbox

BWRAP = shutil.which("bwrap")


def _bwrap_usable() -> str | None:
    """Why bubblewrap tests cannot run here, or None."""
    if BWRAP is None:
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory() as d:
        for sub in ("in", "out", "logs"):
            (Path(d) / sub).mkdir()
        if not sb._bwrap_works(BWRAP, Path(d)):
            return "bubblewrap is installed but cannot create a sandbox here"
    return None


WHY_NO_BWRAP = _bwrap_usable()
needs_bwrap = pytest.mark.skipif(WHY_NO_BWRAP is not None, reason=WHY_NO_BWRAP or "")


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    return tmp_path / "scratch"


@pytest.fixture
def bwrap_box(scratch: Path) -> Iterator[Sandbox]:
    box, warning = open_sandbox(scratch)
    assert warning is None and isinstance(box, sb.BwrapSandbox)
    yield box
    box.close()


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A writable host directory outside /tmp (which the sandbox replaces anyway), like a
    store in someone's home."""
    base = Path("/var/tmp")
    if not os.access(base, os.W_OK):
        pytest.skip("/var/tmp is not writable")
    path = Path(tempfile.mkdtemp(prefix="loxo-host-", dir=base))
    yield path
    shutil.rmtree(path, ignore_errors=True)


_runs = 0


def run(box: Sandbox, scratch: Path, script: str, links: dict[str, str] | None = None,
        stdin: tuple[str, ...] = (), timeout: float = 30) -> tuple[int, str, str]:
    """Run ``sh -c script`` in ``box``: (exit code, stdout, stderr)."""
    global _runs
    _runs += 1
    logs = scratch / "logs" / f"run{_runs}"
    logs.mkdir(parents=True)
    req = RunRequest(("sh", "-c", script), stdin, {"PATH": "/usr/bin:/bin"}, links or {}, None,
                     timeout, str(logs / "stdout"), str(logs / "stderr"))
    result = box.run(req)
    assert not result.timed_out
    return result.code, (logs / "stdout").read_text(), (logs / "stderr").read_text()


def datum_dirs(scratch: Path) -> tuple[Path, Path]:
    """An input directory holding ``a.txt`` and an output directory, as a worker makes."""
    inp, out = scratch / "in" / "1" / "in", scratch / "out" / "1"
    inp.mkdir(parents=True)
    out.mkdir(parents=True)
    (inp / "a.txt").write_text("A\n")
    return inp, out


@needs_bwrap
def test_user_code_cannot_write_the_host(
    bwrap_box: Sandbox, scratch: Path, host_dir: Path
) -> None:
    name = f"loxo-escape-{uuid.uuid4().hex}"
    inp, _ = datum_dirs(scratch)
    targets = [Path("/usr") / name, Path("/etc") / name, host_dir / name,
               scratch / "in" / name, inp / name]
    try:
        for target in targets:
            code, _, err = run(bwrap_box, scratch, f"touch {target}")
            assert code != 0 and "Read-only file system" in err, target
        # root in the sandbox has no capabilities, so it cannot remount the host writable
        code, out, _ = run(bwrap_box, scratch, (
            "grep CapEff /proc/self/status; "
            f"mount -o remount,rw /usr 2>/dev/null; touch /usr/{name} 2>/dev/null"))
        assert code != 0 and out.split() == ["CapEff:", "0000000000000000"]
        assert not any(t.exists() for t in targets)
    finally:
        for target in targets:
            if target.exists():
                target.unlink()


@needs_bwrap
def test_pfs_inputs_are_read_only_and_out_is_writable(bwrap_box: Sandbox, scratch: Path) -> None:
    inp, out = datum_dirs(scratch)
    links = {"/pfs/in": str(inp), "/pfs/out": str(out)}
    code, stdout, _ = run(bwrap_box, scratch, (
        "cat /pfs/in/a.txt; "
        "touch /pfs/in/new 2>/dev/null && exit 10; rm -f /pfs/in/a.txt 2>/dev/null && exit 11; "
        "echo A > /pfs/in/a.txt 2>/dev/null && exit 12; "
        "mkdir /pfs/out/sub && echo written > /pfs/out/sub/o"), links)
    assert (code, stdout) == (0, "A\n")
    assert (out / "sub" / "o").read_text() == "written\n"
    assert [p.name for p in inp.iterdir()] == ["a.txt"] and (inp / "a.txt").read_text() == "A\n"
    assert not Path("/pfs").exists()  # the sandbox's /pfs is its own


@needs_bwrap
def test_tmp_is_writable_and_private(bwrap_box: Sandbox, scratch: Path) -> None:
    token = uuid.uuid4().hex
    host = Path(tempfile.gettempdir()) / f"loxo-host-{token}"
    host.write_text("host")
    mine = Path("/tmp") / f"loxo-sandbox-{token}"
    try:
        code, out, _ = run(bwrap_box, scratch, (
            f"test -e {host} && echo sees-host; echo x > {mine} && cat {mine}; "
            "echo y > $HOME/h 2>/dev/null || true"))
        assert (code, out) == (0, "x\n")
        assert not mine.exists()
    finally:
        host.unlink()
        mine.unlink(missing_ok=True)


@needs_bwrap
def test_one_sandbox_runs_many_commands_and_repoints_pfs(bwrap_box: Sandbox, scratch: Path) -> None:
    outs = []
    for i in range(3):
        inp, out = scratch / "in" / f"d{i}", scratch / "out" / f"d{i}"
        inp.mkdir(parents=True)
        out.mkdir(parents=True)
        (inp / "n").write_text(str(i))
        code, _, _ = run(bwrap_box, scratch, "cp /pfs/in/n /pfs/out/m; echo $$ > /pfs/out/pid",
                         {"/pfs/in": str(inp), "/pfs/out": str(out)})
        assert code == 0
        outs.append(out)
    assert [(o / "m").read_text() for o in outs] == ["0", "1", "2"]


@needs_bwrap
def test_a_timeout_kills_the_whole_process_group(bwrap_box: Sandbox, scratch: Path) -> None:
    logs = scratch / "logs" / "slow"
    logs.mkdir(parents=True)
    req = RunRequest(("sh", "-c", "sleep 100 & sleep 100"), (), {"PATH": "/usr/bin:/bin"}, {},
                     None, 0.3, str(logs / "stdout"), str(logs / "stderr"))
    result = bwrap_box.run(req)
    assert result.timed_out
    # sleeps still running (a killed one may linger a moment as a zombie until the
    # sandbox's init reaps it: state Z, harmless)
    count = ("awk '/^Name:/ {n = $2} /^State:/ {if (n == \"sleep\" && $2 != \"Z\") c++} "
             "END {print c + 0}' /proc/[0-9]*/status 2>/dev/null")
    _, out, _ = run(bwrap_box, scratch, count)
    assert out.strip() == "0"  # the sandbox has its own pid namespace: these would be ours


def test_without_bwrap_the_fallback_warns_in_one_line(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    box, warning = open_sandbox(scratch)
    try:
        assert isinstance(box, sb.PlainSandbox)
        assert warning is not None and "bubblewrap is not installed" in warning
        assert "\n" not in warning and warning.startswith("warning:")
    finally:
        box.close()
    box, warning = open_sandbox(scratch, use_bwrap=False)
    box.close()
    assert warning is not None and "the sandbox is turned off" in warning and "\n" not in warning


def test_the_fallback_rewrites_pfs_in_the_command_and_stdin(scratch: Path) -> None:
    box, _ = open_sandbox(scratch, use_bwrap=False)
    try:
        inp, out = datum_dirs(scratch)
        links = {"/pfs/in": str(inp), "/pfs/out": str(out)}
        code, stdout, err = run(box, scratch, "cat /pfs/in/a.txt; sh", links,
                                stdin=("cp /pfs/in/a.txt /pfs/out/b.txt", "ls /pfs"))
        assert code == 0, err
        assert stdout.split() == ["A", "in", "out"]
        assert (out / "b.txt").read_text() == "A\n"
        assert box.pfs_root == str(scratch / "pfs")
    finally:
        box.close()


def test_the_fallback_rewrites_only_paths_that_are_pfs(scratch: Path) -> None:
    box, _ = open_sandbox(scratch, use_bwrap=False)
    box.close()
    assert isinstance(box, sb.PlainSandbox)
    root = box.pfs_root
    cases = {
        "/pfs": root, "/pfs/in/a": f"{root}/in/a", "ls /pfs": f"ls {root}",
        '--out="/pfs/out/x" --in=/pfs/in': f'--out="{root}/out/x" --in={root}/in',
        "/mnt/pfs/in": "/mnt/pfs/in", "/pfsx/y": "/pfsx/y", "/pfs.bak": "/pfs.bak",
        "~/pfs/in": "~/pfs/in", "${HOME}/pfs/in": "${HOME}/pfs/in", "data/pfs/in": "data/pfs/in",
    }
    assert {text: box._fix(text) for text in cases} == cases


# -- whole jobs ------------------------------------------------------------------------

def spec_file(tmp_path: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return path


def job_spec(name: str, cmd: list[str], stdin: list[str] | None = None,
             parallelism: int = 1) -> dict[str, Any]:
    transform: dict[str, Any] = {"cmd": cmd}
    if stdin:
        transform["stdin"] = stdin
    return {"pipeline": {"name": name}, "transform": transform,
            "parallelism_spec": {"constant": parallelism},
            "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}}}


@needs_bwrap
@pytest.mark.timeout(60)
def test_a_job_in_the_sandbox_keeps_the_store_and_scratch_intact(
    host_dir: Path, tmp_path: Path
) -> None:
    home, scratch = host_dir / "store", host_dir / "scratch"
    with loxo.Client(home, scratch=scratch) as client:
        client.create_repo("data")
        client.put_file("data@master:/a.txt", b"A")
        worker = '"$(dirname "$(dirname "$(dirname "$(readlink -f /pfs/in)")")")"'
        cmd = (f"for t in {home}/escape {home}/objects/escape {scratch}/escape "
               f'"$(readlink -f /pfs/in)/escape" {worker}/escape {worker}/in/escape; do '
               'touch "$t" 2>/dev/null && echo "$t" >> /pfs/out/escaped; done; '
               "cp /pfs/in/a.txt /pfs/out/; echo tmp > /tmp/t && cat /tmp/t > /pfs/out/tmp")
        client.create_pipeline(spec_file(tmp_path, job_spec("guard", ["sh", "-c", cmd])))
        job = client.list_job("guard")[0]
        assert job.state is JobState.SUCCESS, job.reason
        assert client.pps.executor.warning is None
        files = [f.path for f in client.list_file("guard@master")]
        escaped = client.get_file("guard@master:/escaped") if "/escaped" in files else b""
        assert escaped == b""
        assert files == ["/a.txt", "/tmp"]
        assert client.get_file("guard@master:/tmp") == b"tmp\n"
    assert not [p for p in host_dir.rglob("escape")]


@needs_bwrap
@pytest.mark.timeout(120)
def test_a_job_needs_no_network(tmp_path: Path) -> None:
    """A whole job, sandbox included, in a network namespace with no interfaces up."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode:
        pytest.skip("cannot make a network namespace here (unshare -rn)")
    count = "tail -n +3 /proc/net/dev | wc -l > /pfs/out/ifaces; cp /pfs/in/* /pfs/out/"
    spec = spec_file(tmp_path, job_spec("net", ["sh", "-c", count], parallelism=2))
    script = tmp_path / "job.py"
    script.write_text(
        "import json, sys, loxo\n"
        f"c = loxo.Client({str(tmp_path / 'store')!r}, scratch={str(tmp_path / 'scratch')!r})\n"
        "c.create_repo('data')\n"
        "c.put_file('data@master:/a.txt', b'A')\n"
        f"c.create_pipeline({str(spec)!r})\n"
        "j = c.list_job('net')[0]\n"
        "print(json.dumps([j.state.value, j.reason, c.pps.executor.warning,"
        " c.get_file('net@master:/ifaces').decode().strip()]))\n")
    done = subprocess.run([unshare, "-rn", sys.executable, str(script)],
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr
    state, reason, warning, ifaces = json.loads(done.stdout)
    assert (state, reason, warning) == ("success", "", None)
    assert ifaces == "1"  # only lo, and it is down


@pytest.mark.timeout(60)
@pytest.mark.parametrize("parallelism", [1, 2])
def test_a_job_without_the_sandbox_still_finds_pfs(
    home: Path, tmp_path: Path, parallelism: int
) -> None:
    with loxo.Client(home, sandbox=False, scratch=tmp_path / "scratch") as client:
        client.create_repo("data")
        client.put_file("data@master:/a.txt", b"A")
        client.put_file("data@master:/b.txt", b"B")
        spec = job_spec(
            "plain", ["sh"], parallelism=parallelism,
            stdin=['n=$(basename "$in")', "cp /pfs/in/$n /pfs/out/$n",
                   'test -f "$in" && echo "$n" > /pfs/out/$n.env'])
        client.create_pipeline(spec_file(tmp_path, spec))
        job = client.list_job("plain")[0]
        assert job.state is JobState.SUCCESS, job.reason
        got = {f.path: client.get_file(f"plain@master:{f.path}")
               for f in client.list_file("plain@master")}
        assert got == {"/a.txt": b"A", "/a.txt.env": b"a.txt\n",
                       "/b.txt": b"B", "/b.txt.env": b"b.txt\n"}
        warning = client.pps.executor.warning
        assert warning is not None and "\n" not in warning
        assert "the sandbox is turned off" in warning and "/pfs" in warning
        assert not Path("/pfs").exists()


def test_a_working_directory_under_tmp_stays_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox's /tmp is private, but commands still run from their directory (specs
    name scripts relative to it), even when that directory is under the host's /tmp."""
    from loxo.worker.sandbox import bwrap_argv

    here = tmp_path / "project"
    here.mkdir()
    monkeypatch.chdir(here)
    argv = bwrap_argv("bwrap", tmp_path / "scratch")
    binds = [argv[i + 1] for i, a in enumerate(argv) if a == "--ro-bind"]
    assert str(here.resolve()) in binds
    assert argv.index("--tmpfs", argv.index("/pfs")) < argv.index(str(here.resolve()))


@pytest.mark.timeout(60)
def test_a_command_without_stdin_reads_end_of_file_at_once(home: Path, tmp_path: Path) -> None:
    """No ``transform.stdin``: a command reading its stdin finds it empty (it is
    /dev/null), never the runner's own requests, and does not hang."""
    with loxo.Client(home, scratch=tmp_path / "scratch") as client:
        client.create_repo("data")
        client.put_file("data@master:/a.txt", b"A")
        client.put_file("data@master:/b.txt", b"B")
        read = 'cat > "/pfs/out/${in##*/}.stdin"; cp "$in" /pfs/out/'
        client.create_pipeline(spec_file(tmp_path, job_spec("reads", ["sh", "-c", read])))
        job = client.list_job("reads")[0]
        assert job.state is JobState.SUCCESS, job.reason
        got = {f.path: client.get_file(f"reads@master:{f.path}")
               for f in client.list_file("reads@master")}
        assert got == {"/a.txt": b"A", "/a.txt.stdin": b"", "/b.txt": b"B", "/b.txt.stdin": b""}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("count", [1, 3, 11])
def test_every_datum_of_a_set_is_answered_in_order(scratch: Path, count: int) -> None:
    """Requests go to the runner and answers come back a few at a time; a set whose size
    is not a multiple of that (one datum, say) must still get every answer, in order,
    each datum in its own output directory."""
    box, _ = open_sandbox(scratch, use_bwrap=False)
    try:
        (scratch / "logs").mkdir(parents=True, exist_ok=True)
        program = sb.Program(("sh", "-c", 'echo "$N" > "$OUT/n"; test "$N" != 2'), (),
                             {"PATH": "/usr/bin:/bin"}, None, 30, 1, (), (), (),
                             str(scratch / "logs" / "stdout"), str(scratch / "logs" / "stderr"))
        outs = [scratch / "out" / str(i) for i in range(count)]
        datums = (sb.DatumRun({}, {"N": str(i), "OUT": str(outs[i])}, str(outs[i]))
                  for i in range(count))
        states = [o.state for o in box.run_set(program, datums)]
    finally:
        box.close()
    assert states == ["failed" if i == 2 else "success" for i in range(count)]
    assert [(o / "n").read_text() for o in outs] == [f"{i}\n" for i in range(count)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("size", "ahead"), [(10, sb.AHEAD), (sb.AHEAD_BYTES, 2)])
def test_datums_are_prepared_ahead_within_a_bound_on_their_input(scratch: Path, size: int,
                                                                 ahead: int) -> None:
    """Small datums go to the runner many at a time; datums with big inputs (scratch is
    RAM) only the running one and the next."""
    box, _ = open_sandbox(scratch, use_bwrap=False)
    pulled = 0

    def datums() -> Iterator[sb.DatumRun]:
        nonlocal pulled
        for i in range(3 * sb.AHEAD):
            pulled += 1
            yield sb.DatumRun({}, {}, str(scratch / "out" / str(i)), size)

    program = sb.Program(("true",), (), {"PATH": "/usr/bin:/bin"}, None, 30, 1, (), (), (),
                         str(scratch / "logs" / "stdout"), str(scratch / "logs" / "stderr"))
    try:
        prepared_before = [pulled - n for n, _ in enumerate(box.run_set(program, datums()))]
    finally:
        box.close()
    assert max(prepared_before) == ahead
    assert len(prepared_before) == 3 * sb.AHEAD


@pytest.mark.timeout(60)
def test_with_big_inputs_an_answer_is_not_held_back_while_the_next_datum_runs(scratch: Path) -> None:
    """Only two datums with big inputs are in flight; the worker must learn the first
    one's outcome while the second runs (to store its outputs and prepare the third),
    not after. Datum 1 waits for a file the caller makes on datum 0's outcome."""
    box, _ = open_sandbox(scratch, use_bwrap=False)
    go = scratch / "go"
    script = ('[ "$N" = 1 ] || exit 0; i=0; '
              'while [ ! -e "$GO" ]; do i=$((i+1)); [ $i -gt 300 ] && exit 1; sleep 0.01; done')
    program = sb.Program(("sh", "-c", script), (), {"PATH": "/usr/bin:/bin"}, None, 30, 1, (), (),
                         (), str(scratch / "logs" / "stdout"), str(scratch / "logs" / "stderr"))
    datums = (sb.DatumRun({}, {"N": str(i), "GO": str(go)}, str(scratch / "out" / str(i)),
                          sb.AHEAD_BYTES) for i in range(3))
    states = []
    try:
        for outcome in box.run_set(program, datums):
            states.append(outcome.state)
            go.touch()
    finally:
        box.close()
    assert states == ["success"] * 3
