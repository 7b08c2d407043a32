"""``loxo auth`` with the real console script against a real ``loxo serve``: activate,
who am I, robot tokens, login, roles, and denials as one ``error:`` line and exit 1."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loxo.cli.main import root
from tests.support.server import LOXO, ServerProcess, start_server

Loxo = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = start_server(tmp_path / "store")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def loxo(server: ServerProcess, tmp_path: Path) -> Loxo:
    """``loxo --address URL ...`` with its own config file and no token in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOXO_", "PACHD_"))}
    env.pop("ADDRESS", None)

    def run(*args: str, config: str = "config.json", stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(LOXO), "--address", server.url, *args], capture_output=True,
                              text=True, input=stdin, timeout=60,
                              env={**env, "LOXO_CONFIG": str(tmp_path / config)})

    return run


def one_error(done: subprocess.CompletedProcess[str], starts: str) -> None:
    assert done.returncode == 1, done
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {starts}"), done.stderr


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_activate_whoami_robot_tokens_roles_and_denials(loxo: Loxo, tmp_path: Path) -> None:
    assert "auth is not active" in loxo("auth", "whoami").stdout
    assert loxo("create", "repo", "data").returncode == 0
    activated = loxo("auth", "activate")
    assert activated.returncode == 0, activated.stderr
    root_token = activated.stdout.strip()
    assert root_token.startswith("loxo_") and "shown only once" in activated.stderr
    config = tmp_path / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert loxo("auth", "whoami").stdout.strip() == "You are user:root (clusterAdmin)"  # saved login

    robot = loxo("auth", "get-robot-token", "ci").stdout.strip()
    one_error(loxo("--token", robot, "list", "commit", "data"), "robot:ci may not GET /v1/repos/data")
    one_error(loxo("list", "repo", config="none.json"), "auth is active and this request carries no token")
    one_error(loxo("auth", "activate"), "auth is already active")

    assert loxo("auth", "set", "repo", "data", "repoReader", "robot:ci").returncode == 0
    assert "robot:ci  repoReader" in " ".join(loxo("auth", "get", "repo", "data").stdout.split("\n"))
    logged = loxo("auth", "login", config="robot.json", stdin=robot + "\n")
    assert logged.returncode == 0 and "as robot:ci" in logged.stdout, logged.stderr
    assert loxo("auth", "whoami", config="robot.json").stdout.strip() == "You are robot:ci"
    assert loxo("list", "commit", "data", config="robot.json").returncode == 0
    one_error(loxo("delete", "repo", "data", config="robot.json"), "robot:ci may not DELETE")
    one_error(loxo("auth", "login", "--token", "loxo_wrong", config="x.json"), "the token is not valid")


def test_auth_commands_need_a_server(tmp_path: Path) -> None:
    done = CliRunner().invoke(root, ["--home", str(tmp_path / "store"), "auth", "whoami"],
                              env={"LOXO_ADDRESS": "", "PACHD_ADDRESS": "", "ADDRESS": ""})
    assert done.exit_code == 1
    assert done.stderr.strip() == ("error: auth lives on a server: pass --address or set LOXO_ADDRESS "
                                   "(a local store has no users or tokens)")
