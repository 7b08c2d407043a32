"""Jobs on the embedded store: triggering, skipping, outputs per datum, provenance,
lineage, failures. Real user commands run in the real sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import loxo
from loxo.errors import AlreadyExists, InUse, InvalidArgument, RepoNotFound
from loxo.model.jobs import DatumState, JobState

ROOT = Path(__file__).resolve().parents[2]


def spec_file(tmp_path: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    return path


def copy_spec(name: str, out: str = "out") -> dict[str, Any]:
    """A pipeline copying every file of its datum to /pfs/out."""
    return {
        "pipeline": {"name": name},
        "transform": {"cmd": ["sh", "-c", f"cp -r /pfs/in/. /pfs/{out}/"]},
        "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}},
    }


@pytest.fixture
def client(tmp_path: Path) -> Iterator[loxo.Client]:
    with loxo.Client(tmp_path / "store") as c:  # closed: no worker outlives its test
        c.create_repo("data")
        yield c


def progress(job: loxo.Client, pipeline: str) -> str:
    j = job.list_job(pipeline)[0]
    return f"{j.data_processed} + {j.data_skipped} / {j.data_total}"


def test_a_commit_runs_the_pipeline_and_only_changed_datums_run_again(
    client: loxo.Client, tmp_path: Path
) -> None:
    client.put_file("data@master:/a.txt", b"A")
    client.put_file("data@master:/b.txt", b"B")
    client.create_pipeline(spec_file(tmp_path, copy_spec("copy")))
    assert progress(client, "copy") == "2 + 0 / 2"
    assert client.get_file("copy@master:/a.txt") == b"A"

    client.put_file("data@master:/b.txt", b"B2")
    assert progress(client, "copy") == "1 + 1 / 2"
    assert client.get_file("copy@master:/b.txt") == b"B2"
    assert client.get_file("copy@master:/a.txt") == b"A"


def test_outputs_of_vanished_datums_disappear(client: loxo.Client, tmp_path: Path) -> None:
    client.put_file("data@master:/a.txt", b"A")
    client.put_file("data@master:/b.txt", b"B")
    client.create_pipeline(spec_file(tmp_path, copy_spec("copy")))
    client.delete_file("data@master:/a.txt")
    assert progress(client, "copy") == "0 + 1 / 1"
    assert [f.path for f in client.list_file("copy@master")] == ["/b.txt"]


def test_job_and_output_commit_share_the_global_id(client: loxo.Client, tmp_path: Path) -> None:
    client.create_pipeline(spec_file(tmp_path, copy_spec("copy")))
    commit = client.put_file("data@master:/a.txt", b"A")
    job = client.list_job("copy")[0]
    assert job.id == commit.id
    assert client.inspect_commit(f"copy@{commit.id}").id == commit.id
    ids = {(j.pipeline, j.id) for j in client.list_job(job_id=commit.id)}
    assert ids == {("copy", commit.id)}


def test_update_keeps_salt_so_everything_is_skipped_and_reprocess_does_not(
    client: loxo.Client, tmp_path: Path
) -> None:
    client.put_file("data@master:/a.txt", b"A")
    spec = copy_spec("copy")
    client.create_pipeline(spec_file(tmp_path, spec))
    spec["parallelism_spec"] = {"constant": "2"}
    client.update_pipeline(spec_file(tmp_path, spec))
    assert progress(client, "copy") == "0 + 1 / 1"
    assert client.inspect_pipeline("copy").version == 2
    assert client.inspect_pipeline("copy^").version == 1
    client.update_pipeline(spec_file(tmp_path, spec), reprocess=True)
    assert progress(client, "copy") == "1 + 0 / 1"


def test_every_job_never_skips(client: loxo.Client, tmp_path: Path) -> None:
    client.put_file("data@master:/a.txt", b"A")
    spec = copy_spec("copy")
    spec["reprocess_spec"] = "every_job"
    client.create_pipeline(spec_file(tmp_path, spec))
    client.put_file("data@master:/b.txt", b"B")
    assert progress(client, "copy") == "2 + 0 / 2"


def test_two_datums_writing_one_path_fail_the_job_naming_both(
    client: loxo.Client, tmp_path: Path
) -> None:
    client.put_file("data@master:/a.txt", b"A")
    client.put_file("data@master:/b.txt", b"B")
    spec = copy_spec("clash")
    spec["transform"]["cmd"] = ["sh", "-c", "echo x > /pfs/out/same"]
    client.create_pipeline(spec_file(tmp_path, spec))
    job = client.list_job("clash")[0]
    assert job.state is JobState.FAILURE
    ids = [d.id for d in client.list_datum(f"clash@{job.id}")]
    assert all(i in job.reason for i in ids) and "/same" in job.reason


def test_append_merging_is_an_opt_in(client: loxo.Client, tmp_path: Path) -> None:
    client.put_file("data@master:/a.txt", b"A")
    client.put_file("data@master:/b.txt", b"B")
    spec = copy_spec("merge")
    spec["transform"]["cmd"] = ["sh", "-c", "cat /pfs/in/* > /pfs/out/all"]
    spec["output_merge"] = "append"
    client.create_pipeline(spec_file(tmp_path, spec))
    assert client.list_job("merge")[0].state is JobState.SUCCESS
    assert sorted(client.get_file("merge@master:/all")) == sorted(b"AB")


def test_failure_is_reported_with_logs_and_downstream_is_unrunnable(
    client: loxo.Client, tmp_path: Path
) -> None:
    client.put_file("data@master:/a.txt", b"A")
    bad = copy_spec("bad")
    bad["transform"]["cmd"] = ["sh", "-c", "echo boom >&2; exit 3"]
    bad["datum_tries"] = 2
    down = {
        "pipeline": {"name": "down"},
        "transform": {"cmd": ["true"]},
        "input": {"pfs": {"repo": "bad", "glob": "/"}},
    }
    client.create_pipeline(spec_file(tmp_path, bad, "bad.json"))
    client.create_pipeline(spec_file(tmp_path, down, "down.json"))
    client.put_file("data@master:/b.txt", b"B")
    job = client.list_job("bad")[0]
    assert job.state is JobState.FAILURE
    assert "loxo logs -p bad" in job.reason and "exited with code 3" in job.reason
    datum = client.list_datum(f"bad@{job.id}")[0]
    assert datum.state is DatumState.FAILED and datum.attempts == 2
    lines = [e.line for e in client.logs("bad", job.id, datum.id)]
    assert lines == ["boom", "boom"]
    downstream = client.list_job("down", job.id)
    assert [j.state for j in downstream] == [JobState.UNRUNNABLE]


def test_err_cmd_recovers_and_accept_return_code_succeeds(
    client: loxo.Client, tmp_path: Path
) -> None:
    client.put_file("data@master:/a.txt", b"A")
    spec = copy_spec("soft")
    spec["transform"].update(cmd=["sh", "-c", "exit 4"], err_cmd=["true"])
    client.create_pipeline(spec_file(tmp_path, spec, "soft.json"))
    job = client.list_job("soft")[0]
    assert job.state is JobState.SUCCESS and job.data_recovered == 1
    spec = copy_spec("ok4")
    spec["transform"].update(cmd=["sh", "-c", "exit 4"], accept_return_code=[4])
    client.create_pipeline(spec_file(tmp_path, spec, "ok4.json"))
    assert client.list_job("ok4")[0].data_processed == 1


def test_datum_timeout_fails_the_datum(client: loxo.Client, tmp_path: Path) -> None:
    client.put_file("data@master:/a.txt", b"A")
    spec = copy_spec("slow")
    spec["transform"]["cmd"] = ["sleep", "30"]
    spec.update(datum_timeout="200ms", datum_tries=1)
    client.create_pipeline(spec_file(tmp_path, spec))
    job = client.list_job("slow")[0]
    assert job.state is JobState.FAILURE and "timed out" in job.reason


def test_user_code_sees_pfs_read_only_and_the_environment(
    client: loxo.Client, tmp_path: Path
) -> None:
    client.put_file("data@master:/dir/a.txt", b"A")
    spec = copy_spec("env")
    spec["transform"]["cmd"] = ["sh", "-c", (
        'echo "$in" > /pfs/out/path; echo "$in_COMMIT" > /pfs/out/commit; '
        'echo "$PACH_JOB_ID" > /pfs/out/job; echo "$PACH_DATUM_ID" > /pfs/out/datum; '
        'touch /pfs/in/dir/new 2>/dev/null && echo writable > /pfs/out/ro || echo ro > /pfs/out/ro; '
        'touch /usr/loxo-escape 2>/dev/null && echo escaped > /pfs/out/host || echo kept > /pfs/out/host'
    )]
    client.create_pipeline(spec_file(tmp_path, spec))
    job = client.list_job("env")[0]
    assert job.state is JobState.SUCCESS, job.reason
    got = {f.path: client.get_file(f"env@master:{f.path}").decode().strip()
           for f in client.list_file("env@master")}
    assert got["/path"] == "/pfs/in/dir"
    assert got["/commit"] == client.inspect_commit("data@master").id
    assert got["/job"] == job.id
    assert got["/datum"] == client.list_datum(f"env@{job.id}")[0].id
    assert got["/ro"] == "ro" and got["/host"] == "kept"


def test_provenance_and_file_lineage(client: loxo.Client, tmp_path: Path) -> None:
    commit = client.put_file("data@master:/a.txt", b"A")
    client.create_pipeline(spec_file(tmp_path, copy_spec("copy")))
    out = client.inspect_commit("copy@master")
    assert f"data@{commit.id}" in out.provenance
    repos = [r for r, _ in client.provenance("copy@master")]
    assert "data" in repos and "copy.spec" in repos
    assert ("copy", out.id) in client.subvenance(f"data@{commit.id}")
    lineage = client.lineage("copy@master:/a.txt")
    assert lineage.pipeline == "copy" and lineage.job == out.id
    assert [(i["repo"], i["path"]) for i in lineage.inputs] == [("data", "/a.txt")]
    assert lineage.inputs[0]["hash"] == client.inspect_file("data@master:/a.txt").hash


def test_pipeline_rules(client: loxo.Client, tmp_path: Path) -> None:
    spec = copy_spec("copy")
    client.create_pipeline(spec_file(tmp_path, spec))
    with pytest.raises(AlreadyExists):
        client.create_pipeline(spec_file(tmp_path, spec))
    with pytest.raises(InUse):
        client.delete_repo("data")
    missing = copy_spec("nope")
    missing["input"]["pfs"]["repo"] = "ghost"
    with pytest.raises(RepoNotFound):
        client.create_pipeline(spec_file(tmp_path, missing, "nope.json"))
    assert [p.name for p in client.list_pipeline()] == ["copy"]
    loop = copy_spec("data2")
    loop["input"]["pfs"]["repo"] = "copy"
    client.create_pipeline(spec_file(tmp_path, loop, "d2.json"))
    cycle = copy_spec("copy")
    cycle["input"]["pfs"]["repo"] = "data2"
    with pytest.raises(InvalidArgument):
        client.update_pipeline(spec_file(tmp_path, cycle, "cycle.json"))
    client.delete_pipeline("data2")
    client.delete_pipeline("copy")
    assert client.list_pipeline() == []
    assert "copy" not in [r.name for r in client.list_repo()]


def test_stopped_pipeline_waits_until_started(client: loxo.Client, tmp_path: Path) -> None:
    client.create_pipeline(spec_file(tmp_path, copy_spec("copy")))
    client.stop_pipeline("copy")
    client.put_file("data@master:/a.txt", b"A")
    assert client.list_job("copy") == []
    client.start_pipeline("copy")
    assert progress(client, "copy") == "1 + 0 / 1"


def test_iris_workshop_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    c = loxo.Client(tmp_path / "store")
    c.create_repo("training")
    c.create_repo("attributes")
    c.put_path("training@master:/iris.csv", "examples/iris/data/iris.csv")
    c.put_path("attributes@master:/test1.csv", "examples/iris/data/test1.csv")
    c.put_path("attributes@master:/test2.csv", "examples/iris/data/test2.csv")
    for name in ("pre_process", "train", "infer"):
        c.create_pipeline(f"examples/iris/{name}.json")
    assert [progress(c, p) for p in ("pre_process", "train", "inference")] == [
        "1 + 0 / 1", "1 + 0 / 1", "2 + 0 / 2"]
    lines = c.get_file("inference@master:/test1.csv").decode().split()
    assert len(lines) == 6 and set(lines) <= {"Iris-setosa", "Iris-versicolor", "Iris-virginica"}
    training = c.inspect_commit("training@master").id
    assert ("training", training) in c.provenance("inference@master")


@pytest.mark.parametrize("parallelism", [1, 2])
def test_outputs_equal_to_stored_data_leave_no_stray_objects(
    client: loxo.Client, tmp_path: Path, parallelism: int
) -> None:
    """Outputs that copy their inputs, and datums reprocessed with the same outputs,
    leave fsck nothing to say: datum output trees count as references, and a datum whose
    whole output tree is stored already writes none of its files again."""
    client.put_files("data@master", [loxo.Source(f"/f{i}.txt", data=f"{i}\n".encode())
                                     for i in range(6)])
    spec = copy_spec("copy")
    spec["parallelism_spec"] = {"constant": parallelism}
    client.create_pipeline(spec_file(tmp_path, spec))
    assert client.fsck() == []
    client.update_pipeline(spec_file(tmp_path, spec), reprocess=True)
    assert progress(client, "copy") == "6 + 0 / 6"
    assert client.fsck() == []
    assert [client.get_file(f"copy@master:/f{i}.txt") for i in range(6)] == [
        f"{i}\n".encode() for i in range(6)]


def test_a_job_leaves_the_garbage_collector_as_it_found_it(client: loxo.Client, tmp_path: Path) -> None:
    """A job keeps the objects that were there before it out of full collections while
    it runs; afterwards they are collectable again, and a caller's own frozen objects
    (a pre-fork server's) stay frozen."""
    import gc
    import weakref

    class Node:
        other: Any = None

    def cycle() -> weakref.ref[Node]:
        a, b = Node(), Node()
        a.other, b.other = b, a  # garbage only the cycle collector can free
        return weakref.ref(a)

    client.put_file("data@master:/a", b"a\n")
    gone = cycle()
    client.create_pipeline(spec_file(tmp_path, copy_spec("first")))
    assert client.list_job("first")[0].state is JobState.SUCCESS
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gone() is None
    gc.freeze()
    try:
        client.create_pipeline(spec_file(tmp_path, copy_spec("second"), "second.json"))
        assert client.list_job("second")[0].state is JobState.SUCCESS
        assert gc.get_freeze_count() > 0  # still frozen (the count drops as objects are freed)
    finally:
        gc.unfreeze()
