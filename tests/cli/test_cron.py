"""``loxo run cron PIPELINE`` (1.x: ``run-cron``): tick now, run the job, ``--no-wait``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from loxo.cli.legacy import translate

Ok = Callable[..., str]
Fails = Callable[..., str]

LIST_TICKS = ["sh", "-c", 'for f in /pfs/tick/*; do echo "$f" > "/pfs/out/$(basename "$f")"; done']
TICK_FILE = re.compile(r"/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def cron_spec(where: Path, name: str = "stamp") -> str:
    path = where / f"{name}.json"
    path.write_text(json.dumps({
        "pipeline": {"name": name},
        "transform": {"cmd": LIST_TICKS},
        "input": {"cron": {"name": "tick", "spec": "@daily"}},
    }))
    return str(path)


def test_run_cron_ticks_and_runs_the_job(ok: Ok, tmp_path: Path) -> None:
    ok("create", "pipeline", "-f", cron_spec(tmp_path))
    assert "stamp_tick" in ok("list", "repo")
    assert ok("list", "job", "--raw").strip() == "[]"

    printed = ok("run", "cron", "stamp").strip()
    repo, _, commit = printed.partition("@")
    assert repo == "stamp_tick" and len(commit) == 32
    [tick] = json.loads(ok("list", "file", "stamp_tick@master", "--raw"))
    assert TICK_FILE.fullmatch(tick["path"])
    [job] = json.loads(ok("list", "job", "-p", "stamp", "--raw"))
    assert (job["id"], job["state"]) == (commit, "success")
    assert ok("get", "file", f"stamp@master:{tick['path']}") == f"/pfs/tick{tick['path']}\n"


def test_run_cron_no_wait_only_ticks_and_the_1x_form(ok: Ok, tmp_path: Path) -> None:
    ok("create", "pipeline", "-f", cron_spec(tmp_path))
    raw = json.loads(ok("run-cron", "stamp", "--no-wait", "--raw"))
    assert (raw["repo"], raw["branch"]) == ("stamp_tick", "master")
    assert json.loads(ok("list", "job", "-p", "stamp", "--raw")) == []
    ok("start", "pipeline", "stamp")  # a command that waits runs the job
    assert [j["id"] for j in json.loads(ok("list", "job", "-p", "stamp", "--raw"))] == [raw["id"]]


def test_run_cron_errors(ok: Ok, fails: Fails, tmp_path: Path) -> None:
    assert "pipeline nosuch not found" in fails("run", "cron", "nosuch")
    ok("create", "repo", "data")
    spec = tmp_path / "copy.json"
    spec.write_text(json.dumps({"pipeline": {"name": "copy"}, "transform": {"cmd": ["true"]},
                                "input": {"pfs": {"repo": "data", "glob": "/*"}}}))
    ok("create", "pipeline", "-f", str(spec))
    assert "has no cron input" in fails("run", "cron", "copy")


def test_run_cron_1x_translation() -> None:
    assert translate(["run-cron", "stamp", "--no-wait"]) == ["run", "cron", "stamp", "--no-wait"]
