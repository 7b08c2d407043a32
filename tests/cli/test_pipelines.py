"""Pipeline, job, datum and logs commands: output, ``--raw``, errors, and 1.x forms."""

from __future__ import annotations

import io
import json
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import Result

import loxo
from loxo.cli.legacy import translate
from loxo.cli.output import datum_progress, elapsed, seconds
from loxo.cli.pipeline import chains, input_text
from loxo.cli.progress import JobBars

Ok = Callable[..., str]
Fails = Callable[..., str]
Run = Callable[..., Result]

COPY = ["sh", "-c", 'for d in /pfs/*; do [ "$d" = /pfs/out ] || cp -r "$d"/. /pfs/out/; done']
BOOM = ["sh", "-c", "echo boom >&2; exit 3"]


def pfs(repo: str, glob: str = "/*") -> dict[str, Any]:
    return {"pfs": {"repo": repo, "glob": glob}}


def write_spec(where: Path, name: str, cmd: list[str], input: dict[str, Any], **extra: Any) -> str:
    path = where / f"{name}.json"
    path.write_text(json.dumps({"pipeline": {"name": name}, "transform": {"cmd": cmd}, "input": input,
                                **extra}))
    return str(path)


def table(text: str) -> list[dict[str, str]]:
    """A printed table as dicts, cut at the header's column starts (cells may hold spaces)."""
    lines = text.splitlines()
    names = lines[0].split("  ")
    names = [n.strip() for n in names if n.strip()]
    starts = [lines[0].index(n) for n in names]
    ends = [*starts[1:], None]
    return [{n: line[a:b].strip() for n, a, b in zip(names, starts, ends, strict=True)} for line in lines[1:]]


def timeless(text: str) -> str:
    """Output with its ages (``3 seconds ago``) blanked, to compare two runs of a command."""
    return re.sub(r"(Less than a second|About an? \w+|\d+ \w+) ago", "AGO", text)


def fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep and not line.startswith(" "):
            out.setdefault(key, value)
        elif line.endswith(":"):
            out.setdefault(line[:-1], "")
    return out


def jobs(ok: Ok, *args: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(ok("list", "job", *args, "--raw"))
    return result


@pytest.fixture
def data(ok: Ok) -> str:
    """Repo ``data`` with /a.txt and /b.txt (two commits)."""
    ok("create", "repo", "data")
    ok("put", "file", "data@master:/a.txt", input="alpha\n")
    ok("put", "file", "data@master:/b.txt", input="beta\n")
    return "data"


@pytest.fixture
def copy(ok: Ok, data: str, tmp_path: Path) -> str:
    """Pipeline ``copy`` (glob /*) has run once over ``data``; returns its job id."""
    assert ok("create", "pipeline", "-f", write_spec(tmp_path, "copy", COPY, pfs("data"))) == ""
    job_id: str = jobs(ok)[0]["id"]
    return job_id


# -- pipelines ---------------------------------------------------------------------------
def test_create_runs_the_job_and_lists(ok: Ok, copy: str) -> None:
    assert ok("get", "file", "copy@master:/a.txt") == "alpha\n"
    [row] = table(ok("list", "pipeline"))
    assert row == {"NAME": "copy", "VERSION": "1", "INPUT": "data:/*", "CREATED": row["CREATED"],
                   "STATE / LAST JOB": "running / success"}
    assert row["CREATED"].endswith("ago")
    [job] = table(ok("list", "job"))
    assert job["ID"] == copy and job["PIPELINE"] == "copy" and job["PROGRESS"] == "2 + 0 / 2"
    assert job["STATE"] == "success" and job["RESTART"] == "0" and job["UL"] == "11B"
    assert job["DURATION"] in ("Less than a second", "1 second") and job["STARTED"].endswith("ago")


def test_inspect_pipeline_and_raw(ok: Ok, copy: str) -> None:
    block = fields(ok("inspect", "pipeline", "copy"))
    assert block["Name"] == "copy" and block["Version"] == "1" and block["State"] == "running"
    assert block["Input repos"] == "data" and block["Created"].endswith("ago")
    assert block["Spec commit"] == f"copy.spec@{copy}"
    assert block["Last job"] == f"copy@{copy} (success)"
    raw = json.loads(ok("inspect", "pipeline", "copy", "--raw"))
    assert raw["spec"]["transform"]["cmd"] == COPY and raw["version"] == 1 and raw["inputs"] == ["data"]
    assert [p["name"] for p in json.loads(ok("list", "pipeline", "--raw"))] == ["copy"]


def test_update_makes_versions_and_skips_unless_reprocess(ok: Ok, copy: str, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "copy", COPY, pfs("data"), datum_tries=2)
    assert ok("update", "pipeline", "-f", spec) == ""
    newest = jobs(ok, "-p", "copy")[0]
    assert (newest["data_processed"], newest["data_skipped"], newest["data_total"]) == (0, 2, 2)
    assert fields(ok("inspect", "pipeline", "copy"))["Version"] == "2"
    before = fields(ok("inspect", "pipeline", "copy^"))
    assert before["Version"] == "1" and before["Spec commit"] == f"copy.spec@{copy}"
    assert json.loads(ok("inspect", "pipeline", "copy^", "--raw"))["spec"]["datum_tries"] == 3
    assert json.loads(ok("inspect", "pipeline", "copy", "--raw"))["spec"]["datum_tries"] == 2
    ok("update", "pipeline", "-f", spec, "--reprocess")
    newest = jobs(ok, "-p", "copy")[0]
    assert (newest["data_processed"], newest["data_skipped"]) == (2, 0)
    assert fields(ok("inspect", "pipeline", "copy^2"))["Version"] == "1"


def test_spec_warnings_validate_and_bad_specs(
    run: Run, ok: Ok, fails: Fails, data: str, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, "copy", COPY, pfs("data"), enable_stats=True)
    done = run("validate", "pipeline", "-f", spec)
    assert done.exit_code == 0 and done.stdout == "copy: ok\n"
    assert done.stderr.startswith("warning: copy: enable_stats:") and done.stderr.count("\n") == 1
    assert ok("list", "pipeline").splitlines()[1:] == []  # validate creates nothing
    done = run("create", "pipeline", "-f", spec)
    assert done.exit_code == 0 and done.stdout == ""
    assert done.stderr.startswith("warning: copy: enable_stats:") and done.stderr.count("\n") == 1

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"pipeline": {"name": "x"}, "transform": {"cmd": "sh"}, "input": pfs("data")}))
    for verb in ("validate", "create", "update"):
        line = fails(verb, "pipeline", "-f", str(bad))
        assert "transform.cmd" in line and str(bad) in line
    assert "cannot read spec file" in fails("create", "pipeline", "-f", str(tmp_path / "missing.json"))
    clean = write_spec(tmp_path, "copy", COPY, pfs("data"))
    assert "pipeline copy already exists" in fails("create", "pipeline", "-f", clean)
    unknown_repo = write_spec(tmp_path, "other", COPY, pfs("nosuchrepo"))
    assert "nosuchrepo" in fails("create", "pipeline", "-f", unknown_repo)


def test_unknown_pipeline_errors(fails: Fails) -> None:
    for args in (("inspect", "pipeline", "ghost"), ("delete", "pipeline", "ghost"),
                 ("stop", "pipeline", "ghost"), ("start", "pipeline", "ghost"),
                 ("list", "job", "-p", "ghost"), ("logs", "-p", "ghost")):
        assert "pipeline ghost not found" in fails(*args), args


def test_stop_start_and_no_wait(ok: Ok, copy: str) -> None:
    ok("stop", "pipeline", "copy")
    assert fields(ok("inspect", "pipeline", "copy"))["State"] == "paused"
    ok("put", "file", "data@master:/c.txt", input="gamma\n")
    assert len(jobs(ok)) == 1  # paused: no job
    ok("start", "pipeline", "copy")  # runs what arrived meanwhile
    assert len(jobs(ok)) == 2 and ok("get", "file", "copy@master:/c.txt") == "gamma\n"

    ok("put", "file", "data@master:/d.txt", "--no-wait", input="delta\n")
    assert len(jobs(ok)) == 2  # recorded only
    ok("put", "file", "data@master:/e.txt", input="eps\n")  # the next waiting command runs it
    newest = jobs(ok)[0]
    assert len(jobs(ok)) == 3 and newest["data_total"] == 5 and newest["data_processed"] == 2


def test_create_no_wait_then_the_next_write_runs_it(ok: Ok, data: str, tmp_path: Path) -> None:
    ok("create", "pipeline", "-f", write_spec(tmp_path, "copy", COPY, pfs("data")), "--no-wait")
    assert fields(ok("inspect", "pipeline", "copy"))["Last job"] == "-"
    assert jobs(ok) == []
    ok("put", "file", "data@master:/c.txt", input="gamma\n")
    assert [j["state"] for j in jobs(ok)] == ["success"]


def test_finish_copy_delete_no_wait(ok: Ok, copy: str) -> None:
    commit = ok("start", "commit", "data@master").strip()
    ok("put", "file", f"data@{commit}:/c.txt", input="gamma\n")
    ok("finish", "commit", f"data@{commit}", "--no-wait")
    assert len(jobs(ok)) == 1
    ok("copy", "file", "data@master:/a.txt", "data@master:/z.txt", "--no-wait")
    ok("delete", "file", "data@master:/b.txt", "--no-wait")
    assert len(jobs(ok)) == 1
    ok("delete", "file", "data@master:/z.txt")
    assert len(jobs(ok)) == 2
    assert [f["path"] for f in json.loads(ok("list", "file", "copy@master", "--raw"))] == ["/a.txt", "/c.txt"]


def test_delete_pipeline(ok: Ok, fails: Fails, copy: str, tmp_path: Path) -> None:
    ok("create", "pipeline", "-f", write_spec(tmp_path, "again", COPY, pfs("copy", "/")))
    assert "again" in fails("delete", "pipeline", "copy")  # read by another pipeline
    ok("delete", "pipeline", "again")
    ok("delete", "pipeline", "copy")
    assert ok("list", "pipeline").splitlines()[1:] == []
    assert [r["name"] for r in json.loads(ok("list", "repo", "--raw"))] == ["data"]
    assert "pipeline copy not found" in fails("inspect", "pipeline", "copy")


def test_delete_pipeline_force(ok: Ok, copy: str, tmp_path: Path) -> None:
    ok("create", "pipeline", "-f", write_spec(tmp_path, "again", COPY, pfs("copy", "/")))
    ok("delete", "pipeline", "copy", "--force")
    assert [p["name"] for p in json.loads(ok("list", "pipeline", "--raw"))] == ["again"]


def test_draw_pipeline(ok: Ok, tmp_path: Path) -> None:
    assert ok("draw", "pipeline") == ""
    ok("create", "repo", "training")
    ok("create", "repo", "attributes")
    for name, inp in (("pre_process", pfs("training")), ("train", pfs("pre_process", "/")),
                      ("inference", {"cross": [pfs("attributes"), pfs("train", "/")]})):
        ok("create", "pipeline", "-f", write_spec(tmp_path, name, COPY, inp))
    assert ok("draw", "pipeline") == (
        "attributes ──▶ inference\n"
        "training ──▶ pre_process ──▶ train ──▶ inference\n"
    )
    assert json.loads(ok("draw", "pipeline", "--raw")) == [
        {"from": "attributes", "to": "inference"}, {"from": "pre_process", "to": "train"},
        {"from": "train", "to": "inference"}, {"from": "training", "to": "pre_process"},
    ]
    row = next(r for r in table(ok("list", "pipeline")) if r["NAME"] == "inference")
    assert row["INPUT"] == "(attributes:/* ⨯ train:/)" and row["STATE / LAST JOB"] == "running / -"


def test_chains_cover_every_edge_once() -> None:
    diamond = [("a", "p"), ("a", "q"), ("p", "r"), ("q", "r"), ("r", "s")]
    drawn = chains(diamond)
    assert drawn == [["a", "p", "r", "s"], ["a", "q", "r"]]
    edges = [(c[i], c[i + 1]) for c in drawn for i in range(len(c) - 1)]
    assert sorted(edges) == sorted(diamond)
    assert chains([]) == []


def test_input_text() -> None:
    assert input_text({"pfs": {"repo": "r", "glob": "/*"}}) == "r:/*"
    assert input_text({"union": [{"pfs": {"repo": "a", "glob": "/"}},
                                 {"join": [{"pfs": {"repo": "b", "glob": "/*"}},
                                           {"cron": {"name": "tick", "spec": "@every 1m"}}]}]}) == (
        "(a:/ ∪ (b:/* ⋈ tick:@every 1m))")
    assert input_text(None) == "-"


# -- jobs --------------------------------------------------------------------------------
def test_inspect_job(ok: Ok, copy: str) -> None:
    block = ok("inspect", "job", f"copy@{copy}")
    f = fields(block)
    assert f["ID"] == copy and f["Pipeline"] == "copy" and f["State"] == "success"
    assert f["Progress"] == "2 + 0 / 2" and f["Datums total"] == "2" and f["Datums failed"] == "0"
    assert f["Output commit"] == f"copy@{copy}" and f["Reason"] == "" and f["Data uploaded"] == "11B"
    head = json.loads(ok("inspect", "commit", "data@master", "--raw"))["id"]
    assert f"  data: data@{head} (master)" in block.splitlines()
    assert timeless(ok("inspect", "job", copy)) == timeless(block)  # an id only one pipeline has
    raw = json.loads(ok("inspect", "job", f"copy@{copy}", "--raw"))
    assert set(raw) >= {"pipeline", "id", "version", "state", "reason", "created", "started", "finished",
                        "data_total", "data_processed", "data_skipped", "data_failed",
                        "data_recovered", "download_bytes", "upload_bytes", "restart",
                        "output_commit", "inputs", "salt"}
    assert raw["inputs"][0]["commit"] == head


def test_list_job_filters(ok: Ok, copy: str, tmp_path: Path) -> None:
    ok("create", "pipeline", "-f", write_spec(tmp_path, "again", COPY, pfs("copy", "/")))
    assert [j["pipeline"] for j in jobs(ok)] == ["again", "copy"]
    assert [j["pipeline"] for j in jobs(ok, "-p", "copy")] == ["copy"]
    assert [j["pipeline"] for j in jobs(ok, copy)] == ["copy"]
    assert [j["pipeline"] for j in jobs(ok, f"again@{copy}")] == []
    ok("put", "file", "data@master:/c.txt", input="gamma\n")
    wave = jobs(ok)[0]["id"]
    assert [j["pipeline"] for j in jobs(ok, wave)] == ["again", "copy"]  # one global id


def test_job_errors(ok: Ok, fails: Fails, copy: str, tmp_path: Path) -> None:
    assert "job copy@nope not found" in fails("inspect", "job", "copy@nope")
    assert "job nope not found" in fails("inspect", "job", "nope")
    assert "job copy@nope not found" in fails("stop", "job", "copy@nope")
    assert "job copy@nope not found" in fails("list", "datum", "copy@nope")
    assert "expected pipeline@job-id" in fails("inspect", "job", "copy@")
    ok("create", "pipeline", "-f", write_spec(tmp_path, "again", COPY, pfs("copy", "/")))
    ok("put", "file", "data@master:/c.txt", input="gamma\n")
    wave = jobs(ok)[0]["id"]
    assert "shared by pipelines again, copy" in fails("inspect", "job", wave)


def test_wait_and_stop_job(ok: Ok, copy: str) -> None:
    [row] = table(ok("wait", "job", f"copy@{copy}"))
    assert row["ID"] == copy and row["STATE"] == "success"
    assert table(ok("wait", "job", copy))[0]["ID"] == copy
    assert table(ok("wait", "job", f"copy@{copy}", "--timeout", "5"))[0]["STATE"] == "success"
    ok("put", "file", "data@master:/c.txt", input="gamma\n")
    head = json.loads(ok("inspect", "commit", "data@master", "--raw"))["id"]
    assert [r["PIPELINE"] for r in table(ok("wait", "job", "data@master"))] == ["copy"]  # a commit's jobs
    assert json.loads(ok("wait", "job", head, "--raw"))[0]["id"] == head
    ok("stop", "job", f"copy@{copy}")  # finished jobs stay as they were
    assert jobs(ok, f"copy@{copy}")[0]["state"] == "success"


# -- a failing pipeline ------------------------------------------------------------------
def test_failing_pipeline(run: Run, ok: Ok, fails: Fails, data: str, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "fail", BOOM, pfs("data"), datum_tries=1)
    done = run("create", "pipeline", "-f", spec)
    assert done.exit_code == 0 and done.stdout == ""  # the pipeline exists; its job failed
    [warning] = done.stderr.splitlines()
    assert warning.startswith("warning: job fail@") and " failure: " in warning
    ok("create", "pipeline", "-f", write_spec(tmp_path, "down", COPY, pfs("fail", "/")))
    ok("put", "file", "data@master:/c.txt", "--no-wait", input="gamma\n")
    done = run("put", "file", "data@master:/d.txt", input="delta\n")
    assert done.exit_code == 0 and "warning: job fail@" in done.stderr

    wave = jobs(ok)[0]["id"]
    states = {j["pipeline"]: j["state"] for j in jobs(ok, wave)}
    assert states == {"fail": "failure", "down": "unrunnable"}
    row = next(r for r in table(ok("list", "job")) if r["PIPELINE"] == "fail")
    assert row["PROGRESS"] == "0 + 0 / 4" and row["STATE"] == "failure"
    assert fields(ok("inspect", "job", f"down@{wave}"))["Reason"] == f"upstream job fail@{wave} failed"

    reason = fields(ok("inspect", "job", f"fail@{wave}"))["Reason"]
    command = re.search(r"loxo (logs -p fail -j \S+ --datum \S+)", reason)
    assert command is not None, reason
    assert ok(*shlex.split(command.group(1))) == "boom\n"  # the failed datum's stderr, one command away
    datum = command.group(1).split()[-1]
    assert ok("logs", "-p", "fail", "-j", wave, "--datum", datum[:12]) == "boom\n"
    assert ok("logs", "-p", "fail", "-j", wave).count("boom") == 4
    assert ok("logs", "-j", f"fail@{wave}").count("boom") == 4

    statuses = {r["STATUS"] for r in table(ok("list", "datum", f"fail@{wave}"))}
    assert statuses == {"failed"}
    info = fields(ok("inspect", "datum", f"fail@{wave}", datum))
    assert info["State"] == "failed" and "exited with code 3" in info["Error"] and info["Attempts"] == "1"

    done = run("wait", "job", f"fail@{wave}")
    assert done.exit_code == 1 and table(done.stdout)[0]["STATE"] == "failure"
    assert done.stderr.startswith(f"error: job fail@{wave} failure: ") and done.stderr.count("\n") == 1
    assert run("wait", "job", wave).exit_code == 1


# -- datums ------------------------------------------------------------------------------
def test_list_and_inspect_datum(ok: Ok, fails: Fails, copy: str, tmp_path: Path) -> None:
    rows = table(ok("list", "datum", f"copy@{copy}"))
    assert [r["FILES"] for r in rows] == ["data:/a.txt", "data:/b.txt"]
    assert {r["STATUS"] for r in rows} == {"success"}
    assert all(re.fullmatch(r"[0-9.e-]+s", r["TIME"]) for r in rows)
    assert all(re.fullmatch(r"[0-9a-f]{64}", r["ID"]) for r in rows)

    info = ok("inspect", "datum", f"copy@{copy}", rows[0]["ID"][:10])
    f = fields(info)
    assert f["ID"] == rows[0]["ID"] and f["Job"] == f"copy@{copy}" and f["State"] == "success"
    assert f["Attempts"] == "1" and f["Error"] == "" and f["Output size"] == "6B"
    assert f["Process time"].endswith("s") and f["Started"].endswith("ago")
    inputs = table(info.split("Inputs:\n", 1)[1])
    file_hash = fields(ok("inspect", "file", "data@master:/a.txt"))["Hash"]
    head = json.loads(ok("inspect", "commit", "data@master", "--raw"))["id"]
    assert inputs == [{"NAME": "data", "REPO": "data", "COMMIT": head, "PATH": "/a.txt", "HASH": file_hash}]
    raw = json.loads(ok("inspect", "datum", f"copy@{copy}", rows[0]["ID"], "--raw"))
    assert raw["state"] == "success" and raw["inputs"][0]["path"] == "/a.txt"
    assert len(json.loads(ok("list", "datum", f"copy@{copy}", "--raw"))) == 2
    assert "datum zzz not found" in fails("inspect", "datum", f"copy@{copy}", "zzz")

    ok("update", "pipeline", "-f", str(tmp_path / "copy.json"))
    newest = jobs(ok, "-p", "copy")[0]["id"]
    skipped = table(ok("list", "datum", f"copy@{newest}"))
    assert [(r["ID"], r["STATUS"], r["TIME"]) for r in skipped] == [
        (r["ID"], "skipped", "-") for r in rows]


def test_inspect_datum_of_a_whole_repo_lists_every_file(ok: Ok, data: str, tmp_path: Path) -> None:
    ok("create", "pipeline", "-f", write_spec(tmp_path, "whole", COPY, pfs("data", "/")))
    job_id = jobs(ok)[0]["id"]
    [row] = table(ok("list", "datum", f"whole@{job_id}"))
    assert row["FILES"] == "data:/"
    info = ok("inspect", "datum", f"whole@{job_id}", row["ID"])
    assert [r["PATH"] for r in table(info.split("Inputs:\n", 1)[1])] == ["/a.txt", "/b.txt"]


def test_list_datum_preview(ok: Ok, copy: str, tmp_path: Path, run: Run) -> None:
    spec = write_spec(tmp_path, "preview", COPY, {"cross": [pfs("data"), pfs("copy", "/")]})
    rows = table(ok("list", "datum", "-f", spec))
    assert [r["FILES"] for r in rows] == ["data:/a.txt, copy:/", "data:/b.txt, copy:/"]
    assert list(rows[0]) == ["ID", "FILES"]
    assert ok("list", "pipeline", "--raw").count('"name": "preview"') == 0  # nothing created
    raw = json.loads(ok("list", "datum", "-f", str(tmp_path / "copy.json"), "--raw"))
    ran = table(ok("list", "datum", f"copy@{copy}"))
    assert [d["id"] for d in raw] == [r["ID"] for r in ran]  # the same datums the job had
    assert run("list", "datum").exit_code == 2
    assert run("list", "datum", f"copy@{copy}", "-f", spec).exit_code == 2


# -- logs --------------------------------------------------------------------------------
def test_logs(ok: Ok, run: Run, data: str, tmp_path: Path) -> None:
    say = ["sh", "-c", 'echo "out $data"; echo "err $data" >&2']
    ok("create", "pipeline", "-f", write_spec(tmp_path, "say", say, pfs("data")))
    first = jobs(ok)[0]["id"]
    assert ok("logs", "-p", "say").splitlines() == [
        "out /pfs/data/a.txt", "err /pfs/data/a.txt", "out /pfs/data/b.txt", "err /pfs/data/b.txt",
    ]
    ok("update", "pipeline", "-f", str(tmp_path / "say.json"), "--reprocess")
    assert len(ok("logs", "-p", "say").splitlines()) == 8
    assert len(ok("logs", "-p", "say", "-j", first).splitlines()) == 4
    datum = table(ok("list", "datum", f"say@{first}"))[0]["ID"]
    assert ok("logs", "-p", "say", "-j", first, "--datum", datum).count("\n") == 2
    records = [json.loads(line) for line in ok("logs", "-p", "say", "-j", first, "--raw").splitlines()]
    assert {r["stream"] for r in records} == {"stdout", "stderr"} and records[0]["job"] == first
    assert ok("get-logs", "-p", "say", "-j", first) == ok("logs", "-p", "say", "-j", first)

    started = time.monotonic()
    assert len(ok("logs", "-p", "say", "-f").splitlines()) == 8  # finished job: returns at once
    assert time.monotonic() - started < 5
    assert run("logs").exit_code == 2
    assert run("logs", "-p", "say", "-j", "nope").exit_code == 1


@pytest.mark.slow
def test_logs_follow_a_running_job(
    ok: Ok, data: str, tmp_path: Path, home: Path, loxo_bin: Path
) -> None:
    slow = ["sh", "-c", 'sleep 1; echo "done $data"']
    ok("create", "pipeline", "--no-wait", "-f", write_spec(tmp_path, "slow", slow, pfs("data")))
    local = tmp_path / "c.txt"
    local.write_text("gamma\n")
    writer = subprocess.Popen(  # another process runs the job, as another terminal would
        [str(loxo_bin), "--home", str(home), "put", "file", "data@master:/c.txt", "-f", str(local)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not any(j["state"] == "running" for j in jobs(ok)):
        assert time.monotonic() < deadline and writer.poll() in (None, 0), "the job never started"
        time.sleep(0.05)
    assert ok("logs", "-p", "slow", "-f").splitlines() == [
        "done /pfs/data/a.txt", "done /pfs/data/b.txt", "done /pfs/data/c.txt"]
    assert writer.wait(timeout=30) == 0
    assert jobs(ok)[0]["state"] == "success"


@pytest.mark.slow
def test_ctrl_c_during_a_job_says_how_to_unblock_the_pipeline(
    ok: Ok, data: str, tmp_path: Path, home: Path, loxo_bin: Path
) -> None:
    spec = write_spec(tmp_path, "slow", ["sh", "-c", "sleep 3"], pfs("data", "/"))
    command = subprocess.Popen([str(loxo_bin), "--home", str(home), "create", "pipeline", "-f", spec],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not any(j["state"] == "running" for j in jobs(ok)):
        assert time.monotonic() < deadline and command.poll() is None, "the job never started"
        time.sleep(0.05)
    command.send_signal(signal.SIGINT)
    _, err = command.communicate(timeout=30)
    assert command.returncode == 130
    hint = re.search(r"stop it with: loxo (stop job slow@\S+)", err.decode())
    assert hint is not None, err
    ok(*hint.group(1).split())
    assert jobs(ok)[0]["state"] == "killed"


# -- provenance and lineage --------------------------------------------------------------
def test_inspect_commit_provenance_and_file_lineage(ok: Ok, copy: str) -> None:
    head = json.loads(ok("inspect", "commit", "data@master", "--raw"))["id"]
    block = fields(ok("inspect", "commit", f"copy@{copy}"))
    assert block["Provenance"].split() == [f"data/{head}", f"copy.spec/{copy}"]
    assert fields(ok("inspect", "commit", "data@master"))["Provenance"] == ""

    lineage = ok("inspect", "file", "copy@master:/b.txt")
    f = fields(lineage)
    assert f["Job"] == f"copy@{copy}" and re.fullmatch(r"[0-9a-f]{64}", f["Datum"])
    file_hash = fields(ok("inspect", "file", "data@master:/b.txt"))["Hash"]
    assert lineage.splitlines()[-2:] == ["Inputs:", f"  data@{head}:/b.txt {file_hash}"]
    assert "Job" not in fields(ok("inspect", "file", "data@master:/b.txt"))
    assert "Job" not in fields(ok("inspect", "file", "copy@master:/"))
    assert set(json.loads(ok("inspect", "file", "copy@master:/b.txt", "--raw"))) == {
        "repo", "commit", "path", "kind", "size_bytes", "hash"}


# -- sandbox switch ----------------------------------------------------------------------
def test_no_sandbox(ok: Ok, data: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # without the sandbox /pfs paths written in the command point at scratch, so ask where
    # /pfs really is (spelled so that the rewrite does not touch the comparison)
    where = ["sh", "-c", 'if [ "$(cd /pfs && pwd -P)" = "/p""fs" ]; then echo sandboxed; else echo plain; fi']
    spec = write_spec(tmp_path, "where", where, pfs("data", "/"))
    ok("create", "pipeline", "-f", spec)
    assert ok("logs", "-p", "where") == "sandboxed\n"
    ok("--no-sandbox", "update", "pipeline", "-f", spec, "--reprocess")
    assert ok("logs", "-p", "where", "-j", jobs(ok)[0]["id"]) == "plain\n"
    monkeypatch.setenv("LOXO_SANDBOX", "0")
    ok("update", "pipeline", "-f", spec, "--reprocess")
    assert ok("logs", "-p", "where", "-j", jobs(ok)[0]["id"]) == "plain\n"


# -- 1.x forms ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("create-pipeline -f p.json", "create pipeline -f p.json"),
        ("create-pipeline -f p.json -p", "create pipeline -f p.json"),
        ("update-pipeline -f p.json --reprocess", "update pipeline -f p.json --reprocess"),
        ("list-pipeline", "list pipeline"),
        ("inspect-pipeline edges", "inspect pipeline edges"),
        ("delete-pipeline edges", "delete pipeline edges"),
        ("start-pipeline edges", "start pipeline edges"),
        ("stop-pipeline edges", "stop pipeline edges"),
        ("list-job", "list job"),
        ("list-job -p edges", "list job -p edges"),
        ("inspect-job edges abc", "inspect job edges@abc"),
        ("inspect-job edges@abc", "inspect job edges@abc"),
        ("inspect-job abc", "inspect job abc"),
        ("stop-job edges abc", "stop job edges@abc"),
        ("flush-job images master", "wait job images@master"),
        ("flush-job images@master -p edges", "wait job images@master -p edges"),
        ("list-datum edges abc", "list datum edges@abc"),
        ("inspect-datum edges abc d1", "inspect datum edges@abc d1"),
        ("inspect-datum edges@abc d1", "inspect datum edges@abc d1"),
        ("inspect-datum abc d1", "inspect datum abc d1"),
        ("get-logs -p edges --datum d1", "logs -p edges --datum d1"),
        ("--home h --no-sandbox get-logs -p e", "--home h --no-sandbox logs -p e"),
    ],
)
def test_1x_pipeline_forms(old: str, new: str) -> None:
    assert translate(old.split()) == new.split()


def test_1x_pipeline_commands_run(ok: Ok, copy: str) -> None:
    def same(old: tuple[str, ...], new: tuple[str, ...]) -> None:
        assert timeless(ok(*old)) == timeless(ok(*new)), (old, new)

    same(("list-pipeline",), ("list", "pipeline"))
    same(("inspect-pipeline", "copy"), ("inspect", "pipeline", "copy"))
    same(("inspect-job", "copy", copy), ("inspect", "job", f"copy@{copy}"))
    same(("inspect-job", copy), ("inspect", "job", f"copy@{copy}"))
    same(("list-job", "-p", "copy"), ("list", "job", "-p", "copy"))
    same(("list-datum", "copy", copy), ("list", "datum", f"copy@{copy}"))
    datum = table(ok("list-datum", "copy", copy))[0]["ID"]
    same(("inspect-datum", "copy", copy, datum), ("inspect", "datum", f"copy@{copy}", datum))
    same(("inspect-datum", copy, datum), ("inspect", "datum", f"copy@{copy}", datum))
    ok("put", "file", "data@master:/c.txt", input="gamma\n")
    head = json.loads(ok("inspect", "commit", "data@master", "--raw"))["id"]
    assert [(r["PIPELINE"], r["ID"]) for r in table(ok("flush-job", "data", "master"))] == [("copy", head)]
    ok("stop-pipeline", "copy")
    assert fields(ok("inspect", "pipeline", "copy"))["State"] == "paused"
    ok("start-pipeline", "copy")
    ok("stop-job", "copy", copy)
    ok("delete-pipeline", "copy")
    assert ok("list", "pipeline").splitlines()[1:] == []


# -- pieces ------------------------------------------------------------------------------
def test_formatters() -> None:
    assert datum_progress(1, 0, 1) == "1 + 0 / 1"
    assert datum_progress(0, 2, 2) == "0 + 2 / 2"
    from datetime import UTC, datetime, timedelta

    t = datetime(2024, 1, 1, tzinfo=UTC)
    assert elapsed(t, t + timedelta(seconds=2.5)) == "2 seconds"
    assert elapsed(t, t + timedelta(seconds=0.2)) == "Less than a second"
    assert elapsed(t, None) == "-"
    assert [seconds(v) for v in (0.0, 0.2589, 12.34, 950.4)] == ["0s", "0.259s", "12.3s", "950s"]


def test_job_bars_draw_on_a_terminal_only(client: loxo.Client) -> None:
    screen = io.StringIO()
    with JobBars(client, Console(file=screen, force_terminal=True, width=100)) as bars:
        report = bars.started("edges", "abc123")
        assert report is not None
        report(1, 4)
        report(4, 4)
    assert "edges@abc123" in screen.getvalue() and "4/4" in screen.getvalue()
    quiet = io.StringIO()
    with JobBars(client, Console(file=quiet, force_terminal=False)) as bars:
        assert bars.started("edges", "abc123") is None
    assert quiet.getvalue() == ""
