"""The iris workshop's pipeline steps (pachctl 1.x lines, ``loxo`` for ``pachctl``), run
from the repository root because the specs' commands name ``examples/iris/code/...``."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.server import start_server

Ok = Callable[..., str]
Proc = Callable[..., subprocess.CompletedProcess[bytes]]

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "examples" / "iris"
SPECIES = {"Iris-setosa", "Iris-versicolor", "Iris-virginica"}


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return ROOT


def sh(ok: Ok, line: str) -> str:
    words = shlex.split(line)
    assert words[0] in ("pachctl", "loxo")
    return ok(*words[1:])


def jobs(ok: Ok) -> list[dict[str, str]]:
    """``list-job`` rows as dicts, newest first (PROGRESS and DURATION hold spaces)."""
    lines = sh(ok, "pachctl list-job").splitlines()
    header = lines[0]
    starts = [header.index(c) for c in
              ("ID", "PIPELINE", "STARTED", "DURATION", "RESTART", "PROGRESS", "DL", "UL", "STATE")]
    names = ["id", "pipeline", "started", "duration", "restart", "progress", "dl", "ul", "state"]
    rows = []
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def latest(rows: list[dict[str, str]], pipeline: str) -> dict[str, str]:
    return next(r for r in rows if r["pipeline"] == pipeline)


@pytest.fixture(params=["embedded", "server"])
def via(request: pytest.FixtureRequest, ok: Ok, at_root: Path, home: Path) -> Iterator[Ok]:
    """The CLI on the store itself, or on a real ``loxo serve`` of it (``--address``)."""
    if request.param == "embedded":
        yield ok
        return
    server = start_server(home)  # started at the repository root, as the specs need
    try:
        yield lambda *args, **kw: ok("--address", server.url, *args, **kw)
    finally:
        server.stop()


def test_workshop_pipelines(via: Ok, tmp_path: Path) -> None:
    ok = via
    sh(ok, "pachctl create-repo training")
    sh(ok, "pachctl create-repo attributes")
    sh(ok, "pachctl put-file training master iris.csv -f examples/iris/data/iris.csv")
    sh(ok, "pachctl put-file attributes master test1.csv -f examples/iris/data/test1.csv")
    sh(ok, "pachctl put-file attributes master test2.csv -f examples/iris/data/test2.csv")
    for spec in ("pre_process", "train", "infer"):
        assert sh(ok, f"pachctl create-pipeline -f examples/iris/{spec}.json") == ""

    rows = jobs(ok)
    assert [r["pipeline"] for r in rows] == ["inference", "train", "pre_process"]
    assert latest(rows, "pre_process")["progress"] == "1 + 0 / 1"
    assert latest(rows, "train")["progress"] == "1 + 0 / 1"
    assert latest(rows, "inference")["progress"] == "2 + 0 / 2"
    assert {r["state"] for r in rows} == {"success"}
    predictions = sh(ok, "pachctl get-file inference master test1.csv").splitlines()
    assert len(predictions) == 6 and set(predictions) <= SPECIES

    # bonus step 10: a new parallelism is a new version; every datum is skipped
    spec = json.loads((IRIS / "infer.json").read_text())
    spec["parallelism_spec"]["constant"] = "3"
    (tmp_path / "infer.json").write_text(json.dumps(spec))
    sh(ok, f"pachctl update-pipeline -f {tmp_path / 'infer.json'}")
    rows = jobs(ok)
    assert len(rows) == 4
    assert rows[0]["pipeline"] == "inference" and rows[0]["progress"] == "0 + 2 / 2"
    assert rows[0]["state"] == "success"
    assert "Version: 2" in sh(ok, "pachctl inspect-pipeline inference")
    assert sh(ok, "pachctl get-file inference master test1.csv").splitlines() == predictions

    # bonus step 11: new training data re-runs the whole chain
    changed = tmp_path / "iris.csv"
    iris = (IRIS / "data" / "iris.csv").read_text()
    changed.write_text(iris + "".join(iris.splitlines(keepends=True)[100:110]))
    sh(ok, f"pachctl put-file training master iris.csv -c -o -f {changed}")
    rows = jobs(ok)
    assert [r["pipeline"] for r in rows[:3]] == ["inference", "train", "pre_process"]
    assert len({r["id"] for r in rows[:3]}) == 1  # one global id for the whole wave
    assert [r["progress"] for r in rows[:3]] == ["2 + 0 / 2", "1 + 0 / 1", "1 + 0 / 1"]
    assert {r["state"] for r in rows} == {"success"}
    training_head = sh(ok, "pachctl list-commit training master").splitlines()[1].split()[2]
    assert training_head == rows[0]["id"]

    # bonus step 12: the output commit's transitive provenance, as 1.x listed it
    block = sh(ok, f"pachctl inspect-commit inference {rows[0]['id']}")
    provenance = next(line for line in block.splitlines() if line.startswith("Provenance: "))
    tokens = provenance.split()[1:]
    assert f"training/{training_head}" in tokens
    assert {t.split("/")[0] for t in tokens} == {
        "training", "pre_process", "train", "attributes",
        "pre_process.spec", "train.spec", "inference.spec",
    }

    # and beyond Pachyderm: which exact files made a prediction
    lineage = sh(ok, "pachctl inspect-file inference master test1.csv")
    assert f"Job: inference@{rows[0]['id']}" in lineage
    assert "/test1.csv blake3:" in lineage and "/model.json blake3:" in lineage


@pytest.mark.slow
def test_workshop_start_with_the_real_command(process: Proc, at_root: Path) -> None:
    def loxo(line: str) -> str:
        done = process(*shlex.split(line), cwd=at_root)
        assert done.returncode == 0, (line, done.stderr)
        noise = [x for x in done.stderr.splitlines() if not x.startswith(b"note: image ")]
        assert noise == [], done.stderr
        return done.stdout.decode()

    loxo("create-repo training")
    loxo("put-file training master iris.csv -f examples/iris/data/iris.csv")
    assert loxo("create-pipeline -f examples/iris/pre_process.json") == ""
    row = loxo("list-job").splitlines()[1]
    assert "pre_process" in row and "1 + 0 / 1" in row and row.endswith("success")
