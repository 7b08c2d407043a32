"""Fixtures for CLI tests: run ``loxo`` in-process on a fresh store, or as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import typer.testing
from typer.testing import CliRunner, Result

from loxo.cli.main import root

LOXO = Path(sys.executable).parent / "loxo"


class Run(Protocol):
    def __call__(self, *args: str, input: bytes | str | None = None) -> Result: ...


@pytest.fixture(scope="session", autouse=True)
def _build_command_once() -> Iterator[None]:
    """Typer rebuilds the Click command tree on every ``CliRunner.invoke`` (~30 ms); the
    tree never changes, so build it once. Only speed: without the patch tests still pass."""
    build = getattr(typer.testing, "_get_command", None)
    if build is None:
        yield
        return
    built: dict[int, Any] = {}

    def cached(app: typer.Typer) -> Any:
        if id(app) not in built:
            built[id(app)] = build(app)
        return built[id(app)]

    setattr(typer.testing, "_get_command", cached)  # noqa: B010 - a private name, on purpose
    yield
    setattr(typer.testing, "_get_command", build)  # noqa: B010


@pytest.fixture
def run(home: Path) -> Run:
    """``run("list", "repo")``: the CLI in-process on this test's store (``--home``)."""
    runner = CliRunner()

    def invoke(*args: str, input: bytes | str | None = None) -> Result:
        return runner.invoke(root, ["--home", str(home), *args], input=input)

    return invoke


@pytest.fixture
def ok(run: Run) -> Callable[..., str]:
    """Like ``run`` but the command must succeed; returns its stdout."""

    def invoke(*args: str, input: bytes | str | None = None) -> str:
        result = run(*args, input=input)
        assert result.exit_code == 0, (args, result.output, result.exception)
        # the one note allowed: a spec's image is recorded but commands run on the host
        noise = [x for x in result.stderr.splitlines() if not x.startswith("note: image ")]
        assert noise == [], result.stderr
        return result.stdout

    return invoke


@pytest.fixture
def fails(run: Run) -> Callable[..., str]:
    """The command must fail with exactly one ``error: ...`` line and exit code 1."""

    def invoke(*args: str, input: bytes | str | None = None) -> str:
        result = run(*args, input=input)
        assert result.exit_code == 1, (args, result.output, result.exception)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert "Traceback" not in result.output
        return lines[0]

    return invoke


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current directory with the workshop's ``data/`` files in it."""
    root_dir = tmp_path / "work"
    data = root_dir / "data"
    data.mkdir(parents=True)
    iris = (b"5.1,3.5,1.4,0.2,Iris-setosa\n" * 158)[:4410] + b"\n"  # 4,411 B like the workshop's
    (data / "iris.csv").write_bytes(iris)
    (data / "test1.csv").write_bytes(b"5.7,2.8,4.1,1.3\n" * 6)
    monkeypatch.chdir(root_dir)
    return root_dir


@pytest.fixture
def loxo_bin() -> Path:
    """The installed console script (next to this interpreter, in the venv)."""
    if not LOXO.exists():
        pytest.fail(f"the loxo console script is not installed at {LOXO}")
    return LOXO


@pytest.fixture
def process(home: Path, loxo_bin: Path) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """Run the installed ``loxo`` console script as a real process, on this test's store."""

    def invoke(
        *args: str, cwd: Path, input: bytes | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = {**os.environ, "LOXO_HOME": str(home), **(env or {})}
        return subprocess.run(
            [str(loxo_bin), *args], cwd=cwd, env=full_env, input=input, capture_output=True, timeout=60
        )

    return invoke
