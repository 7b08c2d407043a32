"""The local executor: ``parallelism`` worker subprocesses, a user's script never
re-imported by them, and a worker that dies (or fails outside user code) failing its
datums with a clear reason instead of hanging or crashing the job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import loxo
from loxo.executors.local import LocalExecutor, worker_cores
from loxo.model.jobs import DatumState, JobState
from loxo.worker.task import DatumSet, DatumTask, TaskInput, Transform


def spec_file(tmp_path: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return path


def job_spec(name: str, cmd: str, parallelism: int = 2, **extra: Any) -> dict[str, Any]:
    return {"pipeline": {"name": name}, "transform": {"cmd": ["sh", "-c", cmd]},
            "parallelism_spec": {"constant": parallelism},
            "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}}, **extra}


def put_numbers(client: loxo.Client, n: int) -> None:
    client.put_files("data@master", [loxo.Source(f"/f{i}", data=f"{i}\n".encode())
                                     for i in range(n)])


def worker_pids() -> list[int]:
    """This process's worker subprocesses (``python -m loxo.worker.serve``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"loxo.worker.serve" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.timeout(60)
def test_parallelism_two_runs_datums_in_two_worker_processes(home: Path, tmp_path: Path) -> None:
    with loxo.Client(home, sandbox=False, scratch=tmp_path / "scratch") as client:
        client.create_repo("data")
        put_numbers(client, 8)
        # without the sandbox /proc is the host's: user code -> runner -> worker
        cmd = ('n=$(basename "$in"); w=$(cut -d" " -f4 /proc/$PPID/stat); sleep 0.3; '
               "{ echo $w; tr '\\0' ' ' < /proc/$w/cmdline; echo; } > /pfs/out/$n")
        client.create_pipeline(spec_file(tmp_path, job_spec("par", cmd)))
        job = client.list_job("par")[0]
        assert job.state is JobState.SUCCESS, job.reason
        workers = {}
        for i in range(8):
            pid, cmdline = client.get_file(f"par@master:/f{i}").decode().splitlines()
            workers[int(pid)] = cmdline
        assert len(workers) == 2 and os.getpid() not in workers
        assert all("-m loxo.worker.serve" in c for c in workers.values())
    assert worker_pids() == []  # and they are gone once the client is closed


def cpus_seen_by_user_code(client: loxo.Client, tmp_path: Path, name: str, workers: int) -> list[str]:
    cmd = 'grep Cpus_allowed_list /proc/self/status | cut -f2 > "/pfs/out/$(basename "$in")"'
    client.create_pipeline(spec_file(tmp_path, job_spec(name, cmd, parallelism=workers), f"{name}.json"))
    job = client.list_job(name)[0]
    assert job.state is JobState.SUCCESS, job.reason
    return [client.get_file(f"{name}@master:/f{i}").decode().strip() for i in range(8)]


@pytest.mark.timeout(60)
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs at least 2 CPUs")
def test_one_worker_per_cpu_keeps_each_on_its_own_core(home: Path, tmp_path: Path) -> None:
    cpus = len(os.sched_getaffinity(0))
    with loxo.Client(home, sandbox=False, scratch=tmp_path / "scratch") as client:
        client.create_repo("data")
        put_numbers(client, 8)
        seen = cpus_seen_by_user_code(client, tmp_path, "pinned", cpus)
        assert all(s.isdigit() for s in seen), seen  # one CPU each, e.g. "1", not "0-1"
        assert len(set(seen)) > 1  # and not all on the same one
    with loxo.Client(home, sandbox=False, scratch=tmp_path / "scratch", executor="local?pin=0") as client:
        ours = next(line.split("\t")[1] for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("Cpus_allowed_list"))
        assert set(cpus_seen_by_user_code(client, tmp_path, "free", cpus)) == {ours}


def test_fewer_workers_than_cpus_are_left_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert worker_cores(3) is None  # user code may use the spare cores
    assert worker_cores(4) == [0, 1, 2, 3]
    assert worker_cores(6) == [0, 1, 2, 3]  # workers 5 and 6 share cores 0 and 1


@pytest.mark.timeout(120)
def test_a_users_script_is_not_re_imported_by_the_workers(tmp_path: Path) -> None:
    """A script that creates a pipeline at import time (no ``__main__`` guard) runs once."""
    imports = tmp_path / "imports"
    spec = spec_file(tmp_path, job_spec("copy", "cp /pfs/in/* /pfs/out/"))
    script = tmp_path / "make_pipeline.py"
    script.write_text(
        "import json, os, loxo\n"
        f"with open({str(imports)!r}, 'a') as f:\n"
        "    f.write(f'{os.getpid()}\\n')\n"
        f"c = loxo.Client({str(tmp_path / 'store')!r}, scratch={str(tmp_path / 'scratch')!r})\n"
        "c.create_repo('data')\n"
        "c.put_files('data@master', [loxo.Source(f'/f{i}', data=b'x') for i in range(6)])\n"
        f"c.create_pipeline({str(spec)!r})\n"
        "j = c.list_job('copy')[0]\n"
        "print(json.dumps([j.state.value, j.data_processed]))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=100, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["success", 6]
    assert len(imports.read_text().split()) == 1


@pytest.mark.timeout(90)
def test_a_killed_worker_fails_its_datums_and_the_job_ends(home: Path, tmp_path: Path) -> None:
    """SIGKILL one of two workers while its datum runs: that datum fails, naming the
    worker's death; the other worker and the rest of the datums carry on."""
    scratch = tmp_path / "scratch"
    with loxo.Client(home, scratch=scratch) as client:
        client.create_repo("data")
        put_numbers(client, 4)
        # f0 and f1 (the first set of each worker) wait until the test says go
        cmd = ('n=$(basename "$in"); if [ $n = f0 ] || [ $n = f1 ]; then '
               "touch /pfs/out/started; i=0; "
               "while [ ! -e /pfs/out/go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; "
               "rm -f /pfs/out/go /pfs/out/started; fi; cp /pfs/in/$n /pfs/out/")
        box: list[BaseException] = []

        def run() -> None:
            try:
                client.create_pipeline(spec_file(tmp_path, job_spec("victim", cmd)))
            except BaseException as exc:
                box.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 30
        while len(list(scratch.glob("*/out/*/*/started"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = list(scratch.glob("*/out/*/*/started"))
        assert len(started) == 2, "both workers should be running a slow datum"
        pids = worker_pids()
        assert len(pids) == 2
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.5)
        for marker in started:
            if marker.parent.exists():
                (marker.parent / "go").touch()
        thread.join(60)
        assert not thread.is_alive(), "the job hangs after a worker was killed"
        assert box == []
        job = client.list_job("victim")[0]
        assert job.state is JobState.FAILURE
        assert f"worker process {victim}" in job.reason and "signal 9" in job.reason
        datums = {d.inputs[0]["path"]: d for d in client.list_datum(f"victim@{job.id}")}
        failed = [p for p, d in datums.items() if d.state is DatumState.FAILED]
        assert len(failed) == 1 and failed[0] in ("/f0", "/f1")
        assert "killed by signal 9" in datums[failed[0]].error
        assert all(d.state is DatumState.SUCCESS for p, d in datums.items() if p != failed[0])
    assert worker_pids() == []


@pytest.mark.timeout(60)
def test_a_failure_outside_user_code_fails_the_set(home: Path, tmp_path: Path) -> None:
    """A datum whose input tree is missing from the store: the worker reports it, and its
    datums fail with the worker's error rather than the whole run raising."""
    with loxo.Client(home) as client:
        location = client.pfs.store.location
    assert location is not None
    executor = LocalExecutor(location, tmp_path / "scratch", use_sandbox=False)
    transform = Transform(cmd=("true",))
    good = DatumTask("good", (), {})
    bad = DatumTask("bad", (TaskInput("in", "data", "c0", "blake3:" + "0" * 64, "/a"),), {})
    sets = [DatumSet(location, "job", "p", transform, (bad,)),
            DatumSet(location, "job", "p", transform, (good,))]
    results = [r for batch in executor.run(sets, 2) for r in batch]
    by_id = {r.datum_id: r for r in results}
    assert set(by_id) == {"good", "bad"}
    assert by_id["good"].state == "success"
    assert by_id["bad"].state == "failed" and "worker failed" in by_id["bad"].error
