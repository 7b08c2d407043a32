"""Diff-based planning (``loxo.pps.incremental``) must give exactly what the general
planner gives: the same datums, hashes, states, recorded inputs, output tree and
lineage, through a series of changes that add, change, delete and reshape files."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import loxo
from loxo.meta import schema
from loxo.pps import datum_sets, incremental, leases, runner
from loxo.pps.datums import Datum, DatumInput, datum_hash

# One output file per datum, named after the datum's path, holding its files' contents.
_CMD = ('find "$in" -type f | sort | xargs -r cat > "/pfs/out/$(printf %s "$in" | cksum | cut -d" " -f1)"; '
        'echo "$in" >> /pfs/out/paths/"$PACH_DATUM_ID"')


def _spec(glob: str) -> dict[str, Any]:
    return {
        "pipeline": {"name": "p"},
        "transform": {"cmd": ["sh", "-c", "mkdir -p /pfs/out/paths; " + _CMD]},
        "input": {"pfs": {"repo": "data", "glob": glob, "name": "in"}},
    }


def _edit(c: loxo.Client, rng: random.Random, step: int) -> None:
    """A random mix of new, changed and deleted files, at depth one and two; step 3 also
    deletes whole directories, so datums vanish."""
    doomed = [f.path for f in c.list_file("data@master:/") if f.path != "/d0"] if step == 3 else []
    with c.commit("data@master") as commit:
        for path in doomed:
            commit.delete_file(path)
        for _ in range(rng.randint(1, 4)):
            deep = rng.random() < 0.6
            path = f"/d{rng.randint(0, 3)}/f{rng.randint(0, 3)}" if deep else f"/t{rng.randint(0, 5)}"
            if rng.random() < 0.25:
                with contextlib.suppress(loxo.LoxoError):  # not there: nothing to delete
                    commit.delete_file(path)
            else:
                commit.put_file(path, f"{path} {step}".encode())


def _snapshot(c: loxo.Client, job_id: str) -> tuple[Any, ...]:
    store = c.pfs.store
    J = schema.jobs
    with store.db.read() as conn:
        pk = conn.execute(select(J.c.pk).where(J.c.id == job_id)).scalar_one()
        where = datum_sets.layout(conn, pk)
        datums = sorted(
            (r.datum_id, r.hash, r.state, json.loads(r.inputs), r.output_tree)
            for r in datum_sets.datums(conn, where))
        owners = sorted(datum_sets.all_owners(conn, where).items())
        job = conn.execute(select(J.c.data_total, J.c.data_processed, J.c.data_skipped)
                           .where(J.c.pk == pk)).one()
    assert len(datums) == job.data_total
    files = {f.path: c.get_file(f"p@{job_id}:{f.path}") for f in c.walk_file(f"p@{job_id}:/")
             if f.kind.value == "file"}
    return datums, owners, tuple(job), files


@pytest.mark.parametrize(("glob", "delta_min", "db"), [
    ("/*", 1000, "sqlite"), ("/*/*", 1000, "sqlite"), ("/**", 1000, "sqlite"),
    ("/", 1000, "sqlite"), ("/d*", 1000, "sqlite"),
    # deltas stored whole now and then, and deltas over those; on PostgreSQL too
    ("/*", 2, "sqlite"), ("/**", 2, "sqlite"),
    pytest.param("/*", 2, "postgresql", marks=[pytest.mark.slow, pytest.mark.timeout(300)]),
])
def test_diff_planning_equals_the_general_planner(
    glob: str, delta_min: int, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setattr(incremental, "_DELTA_MIN", delta_min)
    url = request.getfixturevalue("pg_server").new_database() if db == "postgresql" else None
    stores = [loxo.Client(tmp_path / "fast", db=url), loxo.Client(tmp_path / "general")]
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(_spec(glob)))
    used = []
    fast_plan = runner._plan_by_diff

    def plan(pfs: Any, job: Any) -> Any:
        if pfs is stores[1].pfs:
            return None
        planned = fast_plan(pfs, job)
        used.append(planned is not None)
        return planned

    monkeypatch.setattr(runner, "_plan_by_diff", plan)
    for c in stores:
        c.create_repo("data")
        c.put_file("data@master:/d0/f0", b"first")
        c.create_pipeline(spec)
    for step in range(10):
        for c in stores:
            _edit(c, random.Random(step), step)
        fast, general = (_snapshot(c, c.list_job("p")[0].id) for c in stores)
        assert fast[2] == general[2]  # total, processed, skipped
        assert fast[1:] == general[1:]
        assert _portable(fast[0]) == _portable(general[0])
        _check_rows(stores[0], fast[0])
    assert used == [False] + [True] * 10  # every job after the first was planned by the diff


def _portable(datums: list[Any]) -> list[Any]:
    """What two stores agree on: ids, states, matched paths and content ids."""
    return [(d[0], d[2], [(i["name"], i["path"], i["id"]) for i in d[3]]) for d in datums]


def _check_rows(c: loxo.Client, datums: list[Any]) -> None:
    """Every row names the current input commit and carries the hash its inputs give."""
    head = c.inspect_commit("data@master").id
    salt = c.list_job("p")[0].salt
    for _, hash_, _, inputs, _ in datums:
        assert [i["commit"] for i in inputs] == [head]
        datum = Datum(tuple(DatumInput(i["name"], i["repo"], i["commit"], i["path"], i["id"], 0, False)
                            for i in inputs))
        assert hash_ == datum_hash(datum, salt)


def test_a_skipped_datum_keeps_its_lineage_and_names_the_new_commit(tmp_path: Path) -> None:
    c = loxo.Client(tmp_path / "store")
    c.create_repo("data")
    with c.commit("data@master") as commit:
        for i in range(50):
            commit.put_file(f"/f{i:02d}", f"{i}".encode())
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "pipeline": {"name": "p"}, "transform": {"cmd": ["sh", "-c", 'cp "$in" /pfs/out/']},
        "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}}}))
    c.create_pipeline(spec)
    c.put_file("data@master:/f07", b"changed")
    job = c.list_job("p")[0]
    assert (job.data_processed, job.data_skipped, job.data_total) == (1, 49, 50)
    head = c.inspect_commit("data@master").id
    lineage = c.lineage("p@master:/f03")
    assert [(f["path"], f["commit"]) for f in lineage.inputs] == [("/f03", head)]
    assert c.get_file("p@master:/f07") == b"changed"
    c.delete_file("data@master:/f03")
    assert [f.path for f in c.list_file("p@master:/")][:4] == ["/f00", "/f01", "/f02", "/f04"]
    with pytest.raises(loxo.LoxoError):
        c.lineage("p@master:/f03")


def test_an_interrupted_delta_job_keeps_what_it_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = loxo.Client(tmp_path / "store")
    c.create_repo("data")
    c.put_files("data@master", [loxo.Source(f"/f{i}", data=b"x") for i in range(10)])
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "pipeline": {"name": "p"},
        "transform": {"cmd": ["sh", "-c", 'tr x y < "$in" > /pfs/out/$(basename $in)']},
        "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}}}))
    c.create_pipeline(spec)
    record, calls = runner._record, []

    def crash_on_second(*args: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the runner dies between two datum sets
        record(*args)

    monkeypatch.setattr(runner, "_record", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        c.put_files("data@master", [loxo.Source(f"/f{i}", data=b"xx") for i in range(4)])
    monkeypatch.setattr(runner, "_record", record)
    monkeypatch.setattr(leases, "LEASE", 0.01)
    monkeypatch.setattr(leases, "died_here", lambda owner: True)  # as if that runner died
    c.run_pending()
    job = c.list_job("p")[0]
    assert (job.state.value, job.restart) == ("success", 1)
    assert (job.data_processed, job.data_skipped, job.data_total) == (4, 6, 10)
    assert {f.path: c.get_file(f"p@master:{f.path}") for f in c.list_file("p@master:/")} == {
        f"/f{i}": b"yy" if i < 4 else b"y" for i in range(10)}
    assert len(c.list_datum(f"p@{job.id}")) == 10


def test_a_recovered_datum_runs_again_in_the_next_job(tmp_path: Path) -> None:
    c = loxo.Client(tmp_path / "store")
    c.create_repo("data")
    c.put_files("data@master", [loxo.Source(f"/f{i}", data=b"x") for i in range(5)])
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "pipeline": {"name": "p"}, "datum_tries": 1,
        "transform": {"cmd": ["sh", "-c", 'test "$(basename $in)" != f0 && cp "$in" /pfs/out/'],
                      "err_cmd": ["true"]},
        "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}}}))
    c.create_pipeline(spec)
    first = c.list_job("p")[0]
    assert (first.state.value, first.data_recovered, first.data_processed) == ("success", 1, 4)
    c.put_file("data@master:/f3", b"changed")
    job = c.list_job("p")[0]
    assert (job.data_recovered, job.data_processed, job.data_skipped) == (1, 1, 3)
