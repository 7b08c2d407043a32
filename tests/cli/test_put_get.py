"""``put file`` (files, directories, stdin, listings, tarballs, URLs) and ``get file``."""

from __future__ import annotations

import filecmp
import functools
import http.server
import io
import json
import os
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import Result

from loxo.cli import progress

Ok = Callable[..., str]
Run = Callable[..., Result]


def _commits(ok: Ok, ref: str = "r") -> int:
    return len(json.loads(ok("list", "commit", ref, "--raw")))


def _paths(ok: Ok, ref: str) -> list[str]:
    return [f["path"] for f in json.loads(ok("walk", "file", ref, "--raw")) if f["kind"] == "file"]


@pytest.fixture
def repo_r(ok: Ok) -> Ok:
    ok("create", "repo", "r")
    return ok


def test_stdin_put_and_binary_get(repo_r: Ok, run: Run) -> None:
    data = bytes(range(256)) * 40
    repo_r("put", "file", "r@master:/bin/data.raw", input=data)
    result = run("get", "file", "r@master:/bin/data.raw")
    assert result.exit_code == 0 and result.stdout_bytes == data
    repo_r("put", "file", "r@master:/bin/data.raw", "-f", "-", "-a", input=b"tail")
    assert run("get", "file", "r@master:/bin/data.raw").stdout_bytes == data + b"tail"
    repo_r("put", "file", "r@master:/bin/data.raw", "-o", input=b"new")
    assert run("get", "file", "r@master:/bin/data.raw").stdout_bytes == b"new"
    assert _commits(repo_r) == 3


def test_several_files_land_in_one_commit(repo_r: Ok, tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(name)
    args = [arg for name in ("a.txt", "b.txt", "c.txt") for arg in ("-f", str(tmp_path / name))]
    repo_r("put", "file", "r@master", *args, "-m", "three")
    repo_r("put", "file", "r@master:/sub", *args[:4])
    assert _paths(repo_r, "r@master") == ["/a.txt", "/b.txt", "/c.txt", "/sub/a.txt", "/sub/b.txt"]
    commits = json.loads(repo_r("list", "commit", "r", "--raw"))
    assert len(commits) == 2 and commits[1]["description"] == "three"


def test_one_file_lands_at_the_path_given(repo_r: Ok, tmp_path: Path) -> None:
    (tmp_path / "local.csv").write_text("1,2\n")
    repo_r("put", "file", "r@master:/renamed.csv", "-f", str(tmp_path / "local.csv"))
    assert repo_r("get", "file", "r@master:/renamed.csv") == "1,2\n"


def _make_tree(root: Path) -> None:
    (root / "deep" / "er").mkdir(parents=True)
    (root / "top.bin").write_bytes(os.urandom(70_000))
    (root / "deep" / "mid.txt").write_text("middle\n")
    (root / "deep" / "er" / "low.txt").write_bytes(b"")
    (root / "deep" / "er" / "weird [name].txt").write_text("brackets")


def test_recursive_put_and_get_round_trip(repo_r: Ok, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _make_tree(src)
    repo_r("put", "file", "r@master:/tree", "-r", "-f", str(src))
    assert _commits(repo_r) == 1
    out = tmp_path / "out"
    repo_r("get", "file", "r@master:/tree", "-r", "-o", str(out))
    cmp = filecmp.dircmp(src, out)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    for sub in ("deep", "deep/er"):
        files = [p.name for p in (src / sub).iterdir() if p.is_file()]
        match, mismatch, errors = filecmp.cmpfiles(src / sub, out / sub, files, shallow=False)
        assert sorted(match) == sorted(files) and not mismatch and not errors
    assert (out / "top.bin").read_bytes() == (src / "top.bin").read_bytes()


def test_recursive_put_without_path_keeps_the_directory_name(repo_r: Ok, tmp_path: Path) -> None:
    src = tmp_path / "photos"
    _make_tree(src)
    repo_r("put", "file", "r@master", "-r", "-f", str(src))
    assert "/photos/deep/mid.txt" in _paths(repo_r, "r@master")


def test_input_listing(repo_r: Ok, tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("1")
    (tmp_path / "two.txt").write_text("22")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'one.txt'}\n\n# a comment\n{tmp_path / 'two.txt'}\n")
    repo_r("put", "file", "r@master:/in", "-i", str(listing))
    assert _paths(repo_r, "r@master") == ["/in/one.txt", "/in/two.txt"]
    assert _commits(repo_r) == 1


def test_untar(repo_r: Ok, tmp_path: Path) -> None:
    archive = tmp_path / "bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in (("x/1.txt", b"one"), ("x/2.txt", b"two"), ("top.txt", b"t")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    repo_r("put", "file", "r@master:/unpacked", "--untar", "-f", str(archive))
    assert _paths(repo_r, "r@master") == ["/unpacked/top.txt", "/unpacked/x/1.txt", "/unpacked/x/2.txt"]
    assert repo_r("get", "file", "r@master:/unpacked/x/2.txt") == "two"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server serving a temporary directory: (base URL, directory)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()


def test_put_from_url(repo_r: Ok, run: Run, http_dir: tuple[str, Path]) -> None:
    base, served = http_dir
    payload = os.urandom(50_000)
    (served / "remote.bin").write_bytes(payload)
    repo_r("put", "file", "r@master", "-f", f"{base}/remote.bin")
    repo_r("put", "file", "r@master:/renamed.bin", "-f", f"{base}/remote.bin")
    assert run("get", "file", "r@master:/remote.bin").stdout_bytes == payload
    assert run("get", "file", "r@master:/renamed.bin").stdout_bytes == payload
    missing = run("put", "file", "r@master", "-f", f"{base}/nope.bin")
    assert missing.exit_code == 1 and "404" in missing.stderr
    assert _commits(repo_r) == 2


def test_get_file_to_output(repo_r: Ok, tmp_path: Path) -> None:
    repo_r("put", "file", "r@master:/d/a.txt", input=b"aaa")
    target = tmp_path / "copy.txt"
    assert repo_r("get", "file", "r@master:/d/a.txt", "-o", str(target)) == ""
    assert target.read_bytes() == b"aaa"
    folder = tmp_path / "folder"
    folder.mkdir()
    repo_r("get", "file", "r@master:/d/a.txt", "-o", str(folder))
    assert (folder / "a.txt").read_bytes() == b"aaa"
    assert sorted(os.listdir(folder)) == ["a.txt"]  # no temporary file left


def test_progress_bar_for_many_files(
    repo_r: Ok, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "many"
    src.mkdir()
    for i in range(12):
        (src / f"{i:03}.txt").write_text(str(i))
    small = run("put", "file", "r@master:/quiet", "-r", "-f", str(src))
    assert small.exit_code == 0 and small.stderr == ""
    monkeypatch.setattr(progress, "MIN_FILES", 10)
    loud = run("put", "file", "r@master:/many", "-r", "-f", str(src), "-p", "2")
    assert loud.exit_code == 0 and "12/12 files" in loud.stderr
    got = run("get", "file", "r@master:/many", "-r", "-o", str(tmp_path / "back"))
    assert got.exit_code == 0 and "12/12 files" in got.stderr
    assert sorted(os.listdir(tmp_path / "back")) == sorted(os.listdir(src))


def test_measure_local(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"12345")
    (tmp_path / "b").write_bytes(b"123")
    entries = [str(tmp_path / "d"), str(tmp_path / "b"), "http://x/y", str(tmp_path / "missing")]
    assert progress.measure_local(entries, recursive=True) == (8, 4)
    assert progress.worth_a_bar(33 << 20, 1) and progress.worth_a_bar(0, 101)
    assert not progress.worth_a_bar(32 << 20, 100)
