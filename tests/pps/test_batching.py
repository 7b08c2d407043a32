"""Datum batching: one user process per datum set asks for its datums in turn, in shell
(``loxo next datum`` over two FIFOs) or Python (``loxo.batch.datums()``). Real user
commands run in the real sandbox; every test is bounded by a pytest-timeout."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import loxo
from loxo.model.jobs import DatumState, JobInfo, JobState

N = 50


def spec_file(tmp_path: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return path


def batch_spec(name: str, cmd: list[str], parallelism: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "pipeline": {"name": name},
        "transform": {"cmd": cmd, "datum_batching": True},
        "parallelism_spec": {"constant": parallelism},
        "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}},
        **extra,
    }


def put_numbers(client: loxo.Client, n: int) -> None:
    """``/f00`` ... holding ``0\\n`` ..., all in one commit."""
    client.put_files("data@master", [loxo.Source(f"/f{i:02d}", data=f"{i}\n".encode())
                                     for i in range(n)])


def only_job(client: loxo.Client, pipeline: str) -> JobInfo:
    jobs = client.list_job(pipeline)
    assert len(jobs) == 1
    return jobs[0]


def datum_logs(client: loxo.Client, pipeline: str, job: JobInfo) -> dict[str, list[str]]:
    """Log lines of each datum, keyed by the datum's input path (``/f00`` ...)."""
    return {d.inputs[0]["path"]: [e.line for e in client.logs(pipeline, job.id, d.id)]
            for d in client.list_datum(f"{pipeline}@{job.id}")}


# Each process draws a token when it starts and writes it beside each datum's content.
SHELL_LOOP = (
    "token=$(cat /proc/sys/kernel/random/uuid); "
    "while loxo next datum > /tmp/d.env; do . /tmp/d.env; "
    'n=$(basename "$in"); { cat "$in"; echo "$token"; } > /pfs/out/$n; done'
)

PYTHON_LOOP = """
import os, uuid
import loxo.batch
with open("/tmp/loads", "a") as f:  # the "model": loaded once per process
    f.write("x\\n")
with open("/tmp/loads") as f:
    loads = len(f.read().split())
token = uuid.uuid4().hex
for env in loxo.batch.datums():
    name = os.path.basename(env["in"])
    assert os.environ["PACH_DATUM_ID"] == env["PACH_DATUM_ID"]
    with open(env["in"]) as f:
        number = f.read().strip()
    with open("/pfs/out/" + name, "w") as f:
        f.write(f"{number} {token} {loads}\\n")
"""


def check_outputs(client: loxo.Client, pipeline: str, parallelism: int) -> list[list[str]]:
    """Every datum succeeded and wrote its number; one process per worker: a worker
    keeps its process from one datum set of the job to the next. Returns each output's
    words after the number."""
    job = only_job(client, pipeline)
    assert job.state is JobState.SUCCESS, job.reason
    assert (job.data_processed, job.data_failed, job.data_total) == (N, 0, N)
    states = {d.state for d in client.list_datum(f"{pipeline}@{job.id}")}
    assert states == {DatumState.SUCCESS}
    rest = []
    for i in range(N):
        words = client.get_file(f"{pipeline}@master:/f{i:02d}").decode().split()
        assert words[0] == str(i)
        rest.append(words[1:])
    # the job is cut into several sets per worker, and each worker starts its process once
    assert 1 <= len({r[0] for r in rest}) <= parallelism
    return rest


@pytest.mark.timeout(120)
@pytest.mark.parametrize("parallelism", [1, 2])
def test_shell_batch_takes_every_datum_in_one_process_per_worker(
    client: loxo.Client, repo: str, tmp_path: Path, parallelism: int
) -> None:
    put_numbers(client, N)
    client.create_pipeline(spec_file(tmp_path, batch_spec(
        "sh", ["sh", "-c", SHELL_LOOP], parallelism)))
    check_outputs(client, "sh", parallelism)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("parallelism", [1, 2])
def test_python_batch_loads_its_model_once_per_worker(
    client: loxo.Client, repo: str, tmp_path: Path, parallelism: int
) -> None:
    put_numbers(client, N)
    client.create_pipeline(spec_file(tmp_path, batch_spec(
        "py", [sys.executable, "-c", PYTHON_LOOP], parallelism)))
    rest = check_outputs(client, "py", parallelism)
    loads_by_token = {token: int(loads) for token, loads in rest}
    if parallelism == 1:  # one worker, one private /tmp: the counter counts every process
        assert sorted(loads_by_token.values()) == list(range(1, len(loads_by_token) + 1))


@pytest.mark.timeout(60)
def test_shell_batch_without_the_sandbox(home: Path, tmp_path: Path) -> None:
    """Without bubblewrap the shim and the rewritten /pfs paths still work."""
    with loxo.Client(home, sandbox=False, scratch=tmp_path / "scratch") as client:
        client.create_repo("data")
        put_numbers(client, 10)
        env_file = tmp_path / "d.env"
        cmd = (f"while loxo next datum > {env_file}; do . {env_file}; "
               'n=$(basename "$in"); cp "$in" /pfs/out/$n; echo $$ >> /pfs/out/$n; done')
        client.create_pipeline(spec_file(tmp_path, batch_spec("plain", ["sh", "-c", cmd])))
        job = only_job(client, "plain")
        assert job.state is JobState.SUCCESS, job.reason
        pids = set()
        for i in range(10):
            number, pid = client.get_file(f"plain@master:/f{i:02d}").decode().split()
            assert number == str(i)
            pids.add(pid)
        assert len(pids) == 1  # one worker: one process, kept from one set to the next
        assert client.pps.executor.warning is not None


@pytest.mark.timeout(60)
def test_a_process_dying_with_a_datum_in_hand_fails_only_that_datum(
    client: loxo.Client, repo: str, tmp_path: Path
) -> None:
    put_numbers(client, 12)
    cmd = ("while loxo next datum > /tmp/d.env; do . /tmp/d.env; n=$(basename \"$in\"); "
           'if [ "$n" = f05 ]; then echo "dying on $n" >&2; exit 7; fi; '
           'cp "$in" /pfs/out/$n; done')
    client.create_pipeline(spec_file(tmp_path, batch_spec(
        "dies", ["sh", "-c", cmd], datum_tries=2)))
    job = only_job(client, "dies")
    assert job.state is JobState.FAILURE
    assert "exited with code 7" in job.reason and "loxo logs -p dies" in job.reason
    datums = {d.inputs[0]["path"]: d for d in client.list_datum(f"dies@{job.id}")}
    bad = datums.pop("/f05")
    assert bad.state is DatumState.FAILED and bad.attempts == 2
    assert "exited with code 7" in bad.error and bad.id in job.reason
    assert {d.state for d in datums.values()} == {DatumState.SUCCESS}
    assert (job.data_processed, job.data_failed) == (11, 1)
    assert "dying on f05" in [e.line for e in client.logs("dies", job.id, bad.id)]


@pytest.mark.timeout(60)
def test_every_datum_failing_every_try_ends_the_job(
    client: loxo.Client, repo: str, tmp_path: Path
) -> None:
    """Many fresh processes in one worker (3 tries x 8 datums): each gets its own FIFOs."""
    put_numbers(client, 8)
    cmd = ["sh", "-c", "loxo next datum > /dev/null && echo took >&2; exit 3"]
    client.create_pipeline(spec_file(tmp_path, batch_spec("doomed", cmd)))
    job = only_job(client, "doomed")
    assert job.state is JobState.FAILURE
    assert "exited with code 3 with this datum in hand (tried 3 times)" in job.reason
    datums = client.list_datum(f"doomed@{job.id}")
    assert len(datums) == 8 and {d.state for d in datums} == {DatumState.FAILED}
    assert {d.attempts for d in datums} == {3}
    assert [e.line for e in client.logs("doomed", job.id, datums[0].id)] == ["took"]


@pytest.mark.timeout(60)
def test_exiting_zero_without_asking_for_the_next_datum_fails_the_one_in_hand(
    client: loxo.Client, repo: str, tmp_path: Path
) -> None:
    """Asking for the next datum is what marks one done; leaving early is not success."""
    put_numbers(client, 4)
    cmd = ["sh", "-c", "loxo next datum > /tmp/d.env && . /tmp/d.env && cp $in /pfs/out/"]
    client.create_pipeline(spec_file(tmp_path, batch_spec("quits", cmd, datum_tries=1)))
    job = only_job(client, "quits")
    assert job.state is JobState.FAILURE
    datums = client.list_datum(f"quits@{job.id}")
    assert {d.state for d in datums} == {DatumState.FAILED}
    assert all("exited with code 0 with this datum in hand" in d.error for d in datums)


@pytest.mark.timeout(60)
def test_a_process_that_never_asks_fails_its_datums_and_the_job_ends(
    client: loxo.Client, repo: str, tmp_path: Path
) -> None:
    put_numbers(client, 3)
    client.create_pipeline(spec_file(tmp_path, batch_spec(
        "lazy", ["sh", "-c", "echo not asking"], datum_tries=2)))
    job = only_job(client, "lazy")
    assert job.state is JobState.FAILURE
    assert "without taking this datum" in job.reason
    datums = client.list_datum(f"lazy@{job.id}")
    assert {d.state for d in datums} == {DatumState.FAILED}
    assert all("exited with code 0 without taking this datum" in d.error for d in datums)
    # what the process printed is there to explain why
    assert "not asking" in [e.line for e in client.logs("lazy", job.id, datums[0].id)]


@pytest.mark.timeout(60)
def test_datum_timeout_bounds_a_stuck_batch_process(
    client: loxo.Client, repo: str, tmp_path: Path
) -> None:
    put_numbers(client, 12)  # 4 sets of 3 datums
    cmd = ("while loxo next datum > /tmp/d.env; do . /tmp/d.env; n=$(basename \"$in\"); "
           '[ "$n" = f01 ] && sleep 1000; cp "$in" /pfs/out/$n; done')
    spec = batch_spec("stuck", ["sh", "-c", cmd], datum_tries=1, datum_timeout="1s")
    started = time.monotonic()
    client.create_pipeline(spec_file(tmp_path, spec))
    elapsed = time.monotonic() - started
    job = only_job(client, "stuck")
    assert job.state is JobState.FAILURE and "timed out" in job.reason
    datums = {d.inputs[0]["path"]: d for d in client.list_datum(f"stuck@{job.id}")}
    assert datums.pop("/f01").state is DatumState.FAILED
    assert {d.state for d in datums.values()} == {DatumState.SUCCESS}
    # a batch process may take datum_timeout per datum of its set (3) plus one
    assert elapsed < 4 * 1.0 + 10


@pytest.mark.timeout(60)
@pytest.mark.parametrize("lang", ["sh", "python"])
def test_logs_go_to_the_datum_in_hand_and_none_are_lost(
    client: loxo.Client, repo: str, tmp_path: Path, lang: str
) -> None:
    put_numbers(client, 8)  # several sets, all taken by one process
    if lang == "sh":
        cmd = ["sh", "-c", (
            "token=$(cat /proc/sys/kernel/random/uuid); echo \"before $token\"; "
            "while loxo next datum > /tmp/d.env; do . /tmp/d.env; n=$(basename \"$in\"); "
            'echo "out $n"; echo "err $n" >&2; cp "$in" /pfs/out/; done; echo "after $token"')]
    else:
        cmd = [sys.executable, "-c", (
            "import os, sys, uuid, loxo.batch\n"
            "token = uuid.uuid4().hex\n"
            "print('before', token)\n"
            "for env in loxo.batch.datums():\n"
            "    n = os.path.basename(env['in'])\n"
            "    print('out', n)\n"
            "    print('err', n, file=sys.stderr)\n"
            "    open('/pfs/out/' + n, 'w').write(n)\n"
            "print('after', token)\n")]
    client.create_pipeline(spec_file(tmp_path, batch_spec("talk", cmd)))
    job = only_job(client, "talk")
    assert job.state is JobState.SUCCESS, job.reason
    logs = datum_logs(client, "talk", job)
    assert len(logs) == 8
    befores: list[str] = []
    afters: list[str] = []
    for path, lines in logs.items():
        n = path.lstrip("/")
        mine = sorted(line for line in lines if line.startswith(("out ", "err ")))
        assert mine == [f"err {n}", f"out {n}"], (path, lines)
        befores += [line.split()[1] for line in lines if line.startswith("before ")]
        afters += [line.split()[1] for line in lines if line.startswith("after ")]
    # the process's first and last words are kept, once each
    assert len(befores) == len(set(befores)) == 1
    assert sorted(afters) == sorted(befores)


UNION_LOOP = """
import os, uuid
import loxo.batch
token = uuid.uuid4().hex
for env in loxo.batch.datums():
    path = env.get("a") or env["b"]
    with open(path) as f, open("/pfs/out/" + os.path.basename(path), "w") as out:
        out.write(f"{f.read().strip()} {token}\\n")
"""


@pytest.mark.timeout(120)
def test_a_kept_process_goes_on_only_with_sets_whose_inputs_it_has(home: Path, tmp_path: Path) -> None:
    """A union's first sets hold only one side's datums: a process started for those
    has no /pfs/b, so the sets of the other side get a process of their own."""
    with loxo.Client(home) as client:
        for name, first in (("data", 0), ("other", 10)):
            client.create_repo(name)
            client.put_files(f"{name}@master", [loxo.Source(f"/{name}{i}", data=f"{first + i}\n".encode())
                                                for i in range(4)])
        spec = batch_spec("both", [sys.executable, "-c", UNION_LOOP])
        spec["input"] = {"union": [{"pfs": {"repo": "data", "glob": "/*", "name": "a"}},
                                   {"pfs": {"repo": "other", "glob": "/*", "name": "b"}}]}
        client.create_pipeline(spec_file(tmp_path, spec))
        job = only_job(client, "both")
        assert job.state is JobState.SUCCESS, job.reason
        assert {d.attempts for d in client.list_datum(f"both@{job.id}")} == {1}  # no retry
        tokens = {}
        for name, first in (("data", 0), ("other", 10)):
            for i in range(4):
                number, token = client.get_file(f"both@master:/{name}{i}").decode().split()
                assert number == str(first + i)
                tokens.setdefault(name, set()).add(token)
        assert not tokens["data"] & tokens["other"]
