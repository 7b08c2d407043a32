"""``start / finish / inspect / list / wait / delete / squash commit``, and global ids."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

import loxo

Ok = Callable[..., str]
Run = Callable[..., Result]


def _ids(ok: Ok, ref: str) -> list[str]:
    return [c["id"] for c in json.loads(ok("list", "commit", ref, "--raw"))]


def test_start_put_finish(ok: Ok) -> None:
    ok("create", "repo", "r")
    commit_id = ok("start", "commit", "r@master", "-m", "two files").strip()
    assert len(commit_id) == 32 and int(commit_id, 16) >= 0
    ok("put", "file", "r@master:/a", input=b"a")
    ok("put", "file", f"r@{commit_id}:/b", input=b"bb")
    listed = json.loads(ok("list", "commit", "r@master", "--raw"))
    assert [(c["id"], c["finished"]) for c in listed] == [(commit_id, None)]
    block = ok("inspect", "commit", f"r@{commit_id}")
    assert "Finished: -" in block
    ok("finish", "commit", "r@master")
    block = ok("inspect", "commit", "r@master")
    assert f"Commit: r@{commit_id}" in block.splitlines()
    for field in ("Original Branch: master", "Parent: -", "Started: ", "Size: 3B", "Origin: USER",
                  "Description: two files", "Provenance:"):
        assert field in block, field
    assert "Finished: -" not in block
    assert _ids(ok, "r") == [commit_id]  # one commit for both puts


def test_inspect_commit_raw_fields(ok: Ok) -> None:
    ok("create", "repo", "r")
    ok("put", "file", "r@master:/a", "-m", "first", input=b"a")
    record = json.loads(ok("inspect", "commit", "r@master", "--raw"))
    assert set(record) >= {"repo", "id", "branch", "parent", "origin", "description", "started",
                           "finished", "size_bytes", "provenance"}
    assert record["origin"] == "user" and record["description"] == "first"


def test_list_commit_tables(ok: Ok) -> None:
    ok("create", "repo", "r")
    ok("put", "file", "r@master:/a", input=b"a")
    ok("put", "file", "r@dev:/a", input=b"bb")
    lines = ok("list", "commit", "r").splitlines()
    assert lines[0].split() == ["REPO", "BRANCH", "COMMIT", "FINISHED", "SIZE", "ORIGIN", "DESCRIPTION"]
    assert len(lines) == 3
    dev = ok("list", "commit", "r@dev").splitlines()
    assert len(dev) == 2 and dev[1].split()[:3] == ["r", "dev", dev[1].split()[2]]
    assert len(dev[1].split()[2]) == 32
    sets = ok("list", "commit").splitlines()
    assert sets[0].split() == ["ID", "SUBCOMMITS", "PROGRESS", "CREATED", "MODIFIED"]
    assert len(sets) == 3 and sets[1].split()[1:3] == ["1", "1/1"]
    assert len(json.loads(ok("list", "commit", "--raw"))) == 2
    assert len(json.loads(ok("list", "commit", "r", "-n", "1", "--raw"))) == 1


def test_global_id(ok: Ok) -> None:
    ok("create", "repo", "r")
    ok("put", "file", "r@master:/a", input=b"a")
    gid = _ids(ok, "r")[0]
    block = ok("inspect", "commit", gid)
    assert f"Commit Set: {gid}" in block and gid in block.splitlines()[-1]
    assert json.loads(ok("inspect", "commit", gid, "--raw"))["commits"][0]["repo"] == "r"
    rows = ok("list", "commit", gid).splitlines()
    assert rows[1].split()[:3] == ["r", "master", gid]
    ok("wait", "commit", gid)
    ok("delete", "commit", gid)
    assert _ids(ok, "r") == []


def test_wait_commit_blocks_until_finished(ok: Ok, run: Run, home: Path) -> None:
    ok("create", "repo", "r")
    commit_id = ok("start", "commit", "r@master").strip()
    timed_out = run("wait", "commit", f"r@{commit_id}", "--timeout", "0.2")
    assert timed_out.exit_code == 1 and timed_out.stderr.startswith("error: ")

    def finish_later() -> None:  # through the SDK: CliRunner swaps sys.stdout, one at a time
        time.sleep(0.3)
        with loxo.Client(home) as other:
            other.finish_commit(f"r@{commit_id}")

    worker = threading.Thread(target=finish_later)
    worker.start()
    record = json.loads(ok("wait", "commit", f"r@{commit_id}", "--timeout", "20", "--raw"))
    worker.join()
    assert record["finished"] is not None


def test_delete_and_squash(ok: Ok, run: Run) -> None:
    ok("create", "repo", "r")
    for name in ("a", "b", "c"):
        ok("put", "file", f"r@master:/{name}", input=name.encode())
    newest, middle, oldest = _ids(ok, "r@master")
    ok("squash", "commit", f"r@{middle}")
    assert _ids(ok, "r@master") == [newest, oldest]
    ok("delete", "commit", "r@master")
    assert _ids(ok, "r@master") == [oldest]
    assert ok("list", "file", "r@master").split()[3::3] == ["/a"]
    refused = run("squash", "commit", "r@master")  # the head cannot be squashed
    assert refused.exit_code == 1 and refused.stderr.startswith("error: ")


def test_start_commit_with_parent(ok: Ok) -> None:
    ok("create", "repo", "r")
    ok("put", "file", "r@master:/a", input=b"a")
    first = _ids(ok, "r")[0]
    ok("put", "file", "r@master:/b", input=b"b")
    commit_id = ok("start", "commit", "r@side", "-p", first).strip()
    ok("finish", "commit", f"r@{commit_id}", "-m", "from the first")
    record = json.loads(ok("inspect", "commit", "r@side", "--raw"))
    assert record["parent"] == first and record["description"] == "from the first"
    assert ok("list", "file", "r@side").split()[3::3] == ["/a"]
