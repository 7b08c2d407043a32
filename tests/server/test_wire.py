"""What crosses the wire: errors keep their class, addresses pick the remote client, and
``loxo version`` names both ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest
from typer.testing import CliRunner

import loxo
from loxo.cli.main import root
from loxo.client.http import raise_for
from loxo.errors import LoxoError, RepoNotFound, ServerUnavailable, SpecError, all_error_classes
from loxo.server.errors import install
from tests.support.server import free_port, start_server


def _as_response(exc: LoxoError) -> httpx.Response:
    """``exc`` through the server's own error handler, as the client receives it."""
    from fastapi import FastAPI

    app = FastAPI()
    install(app)
    handler = app.exception_handlers[LoxoError]
    sent = asyncio.run(handler(None, exc))  # type: ignore[arg-type]
    request = httpx.Request("GET", "http://loxo.test/v1/x")
    return httpx.Response(sent.status_code, content=bytes(sent.body), request=request)


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_comes_back_as_itself(cls: type[LoxoError]) -> None:
    response = _as_response(cls("what went wrong"))
    assert response.status_code == cls.status
    assert orjson.loads(response.content) == {"error": {"code": cls.code, "message": "what went wrong"}}
    with pytest.raises(cls) as caught:
        raise_for(response)
    assert type(caught.value) is cls and caught.value.message == "what went wrong"


def test_spec_errors_keep_every_problem_line(client: loxo.ClientBase) -> None:
    bad = {"pipeline": {"name": "p"}, "transform": {}, "input": {"pfs": {"repo": "r"}}}
    from loxo.pps.spec import spec_from_dict

    with pytest.raises(SpecError) as caught:
        spec_from_dict(bad)
    assert "transform.cmd" in caught.value.message and "input.pfs.glob" in caught.value.message


def test_an_unreachable_server_is_one_clear_error() -> None:
    remote = loxo.RemoteClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ServerUnavailable, match=r"cannot reach the loxo server at http://127\.0\.0\.1:"):
        remote.list_repo()


def test_something_else_answering_is_not_mistaken_for_loxo() -> None:
    request = httpx.Request("GET", "http://proxy.test/v1/repos")
    page = httpx.Response(502, content=b"<html>Bad Gateway</html>", request=request)
    with pytest.raises(ServerUnavailable, match=r"proxy\.test answered 502 without a loxo error"):
        raise_for(page)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("variable", ["LOXO_ADDRESS", "PACHD_ADDRESS", "ADDRESS"])
def test_the_address_variables_pick_the_server(tmp_path: Path, variable: str) -> None:
    server = start_server(tmp_path / "served")
    try:
        runner = CliRunner()
        env = {variable: server.url.removeprefix("http://")}  # host:port, as pachctl users write it
        home = ["--home", str(tmp_path / "local")]
        made = runner.invoke(root, [*home, "create", "repo", "shared"], env=env)
        assert made.exit_code == 0, made.output
        listed = runner.invoke(root, [*home, "list", "repo"], env={})
        assert "shared" not in listed.stdout  # it went to the server, not the local store
        assert "shared" in runner.invoke(root, ["list", "repo"], env=env).stdout
        version = runner.invoke(root, ["version"], env=env).stdout.splitlines()
        assert version == [f"client: {loxo.__version__}", f"server: {loxo.__version__}"]
        missing = runner.invoke(root, ["inspect", "repo", "nope"], env=env)
        assert missing.exit_code == 1
        assert missing.stderr.strip() == "error: repo nope not found; create it with: loxo create repo nope"
    finally:
        server.stop()


def test_a_repo_missing_on_the_server_raises_the_embedded_class(client: loxo.ClientBase) -> None:
    with pytest.raises(RepoNotFound):
        client.inspect_repo("nope")
