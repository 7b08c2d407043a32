"""Every route x every kind of caller, with auth active: exactly the callers holding the
role a route needs get through; the others get 401 (no token) or 403 (no role), a
JSON error that says what is missing, and the store does not change.

``RULES`` is the permission table, written here independently of the server's code.
A route the app serves that is missing from it fails ``test_every_route_has_a_rule``.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loxo.server import ServerConfig, create_app
from tests.server.auth_world import CALLERS, World, build_world, copy_spec, snapshot

Request = tuple[str, str, dict[str, Any]]  # method, URL, keyword arguments of httpx
Maker = Callable[[World], Request]
# The weakest caller a route lets through (an index into CALLERS).
OPEN, AUTH, READ, WRITE, OWN, ADMIN = range(len(CALLERS))
FILES = "/v1/repos/{repo}/commits/{commit}"
JOB = "/v1/pipelines/{pipeline}/jobs/{job}"


def req(method: str, url: str, **kwargs: Any) -> Maker:
    """A request whose URL may name the world's ids: {first}, {open}, {job}, {datum}."""
    return lambda w: (method, url.format(first=w.first, open=w.open, job=w.job, datum=w.datum), kwargs)


def _tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        info = tarfile.TarInfo("t.txt")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"t"))
    return out.getvalue()


D = "/v1/repos/data"
RULES: dict[tuple[str, str], tuple[int, Maker]] = {
    # -- repos, branches, commits
    ("GET", "/v1/repos"): (AUTH, req("GET", "/v1/repos")),
    ("POST", "/v1/repos"): (AUTH, req("POST", "/v1/repos", json={"name": "fresh"})),
    ("GET", "/v1/repos/{repo}"): (READ, req("GET", D)),
    ("PATCH", "/v1/repos/{repo}"): (WRITE, req("PATCH", D, json={"description": "changed"})),
    ("DELETE", "/v1/repos/{repo}"): (OWN, req("DELETE", D, params={"force": "true"})),
    ("GET", "/v1/repos/{repo}/branches"): (READ, req("GET", f"{D}/branches")),
    ("PUT", "/v1/repos/{repo}/branches/{branch}"):
        (WRITE, req("PUT", f"{D}/branches/feature", json={"head": "master"})),
    ("GET", "/v1/repos/{repo}/branches/{branch}"): (READ, req("GET", f"{D}/branches/master")),
    ("DELETE", "/v1/repos/{repo}/branches/{branch}"): (WRITE, req("DELETE", f"{D}/branches/old")),
    ("POST", "/v1/repos/{repo}/commits"): (WRITE, req("POST", f"{D}/commits", json={"branch": "master"})),
    ("GET", "/v1/repos/{repo}/commits"): (READ, req("GET", f"{D}/commits")),
    ("GET", FILES): (READ, req("GET", f"{D}/commits/master")),
    ("DELETE", FILES): (WRITE, req("DELETE", D + "/commits/{open}")),
    ("POST", f"{FILES}/finish"): (WRITE, req("POST", D + "/commits/{open}/finish", json={})),
    ("GET", f"{FILES}/wait"): (READ, req("GET", f"{D}/commits/master/wait", params={"timeout": 0})),
    ("POST", f"{FILES}/squash"): (WRITE, req("POST", D + "/commits/{first}/squash")),
    ("GET", "/v1/commit-sets"): (AUTH, req("GET", "/v1/commit-sets")),
    ("GET", "/v1/commit-sets/{commit_id}"): (AUTH, req("GET", "/v1/commit-sets/{job}")),
    ("DELETE", "/v1/commit-sets/{commit_id}"): (ADMIN, req("DELETE", "/v1/commit-sets/{job}")),
    ("POST", "/v1/commit-sets/{commit_id}/squash"):
        (ADMIN, req("POST", "/v1/commit-sets/{first}/squash")),
    # -- files
    ("PUT", f"{FILES}/content"):
        (WRITE, req("PUT", f"{D}/commits/master/content", params={"path": "/n.txt"}, content=b"n")),
    ("GET", f"{FILES}/content"): (READ, req("GET", f"{D}/commits/master/content", params={"path": "/a.txt"})),
    ("POST", f"{FILES}/tar"): (WRITE, req("POST", f"{D}/commits/master/tar", content=_tar())),
    ("GET", f"{FILES}/tar"): (READ, req("GET", f"{D}/commits/master/tar", params={"path": "/"})),
    ("GET", f"{FILES}/file"): (READ, req("GET", f"{D}/commits/master/file", params={"path": "/a.txt"})),
    ("GET", f"{FILES}/files"): (READ, req("GET", f"{D}/commits/master/files")),
    ("DELETE", f"{FILES}/files"):
        (WRITE, req("DELETE", f"{D}/commits/master/files", params={"path": "/a.txt"})),
    ("GET", f"{FILES}/glob"): (READ, req("GET", f"{D}/commits/master/glob", params={"pattern": "/*"})),
    ("GET", f"{FILES}/diff"): (READ, req("GET", f"{D}/commits/master/diff")),
    ("POST", f"{FILES}/copy"):
        (WRITE, req("POST", f"{D}/commits/master/copy", json={"src": "data@master:/a.txt", "path": "/c"})),
    ("POST", "/v1/fsck"): (ADMIN, req("POST", "/v1/fsck")),
    # -- pipelines and jobs (a pipeline's role is the role on its output repo)
    ("GET", "/v1/pipelines"): (AUTH, req("GET", "/v1/pipelines")),
    ("POST", "/v1/pipelines"): (READ, req("POST", "/v1/pipelines", json={"spec": copy_spec("fresh")})),
    ("GET", "/v1/pipelines/{pipeline}"): (READ, req("GET", "/v1/pipelines/out")),
    ("DELETE", "/v1/pipelines/{pipeline}"):
        (OWN, req("DELETE", "/v1/pipelines/out", params={"force": "true"})),
    ("GET", "/v1/pipelines/{pipeline}/spec"): (READ, req("GET", "/v1/pipelines/out/spec")),
    ("POST", "/v1/pipelines/{pipeline}/stop"): (WRITE, req("POST", "/v1/pipelines/out/stop")),
    ("POST", "/v1/pipelines/{pipeline}/start"): (WRITE, req("POST", "/v1/pipelines/out/start")),
    ("POST", "/v1/pipelines/{pipeline}/cron"): (WRITE, req("POST", "/v1/pipelines/out/cron", json={})),
    ("POST", "/v1/preview"): (READ, req("POST", "/v1/preview", json={"spec": copy_spec("fresh")})),
    ("POST", "/v1/settle"): (AUTH, req("POST", "/v1/settle", json={"timeout": 0})),
    ("GET", "/v1/jobs"): (AUTH, req("GET", "/v1/jobs")),
    ("GET", JOB): (READ, req("GET", "/v1/pipelines/out/jobs/{job}")),
    ("GET", f"{JOB}/wait"): (READ, req("GET", "/v1/pipelines/out/jobs/{job}/wait", params={"timeout": 0})),
    ("POST", f"{JOB}/stop"): (WRITE, req("POST", "/v1/pipelines/out/jobs/{job}/stop")),
    ("GET", f"{JOB}/datums"): (READ, req("GET", "/v1/pipelines/out/jobs/{job}/datums")),
    ("GET", f"{JOB}/datums/{{datum}}"): (READ, req("GET", "/v1/pipelines/out/jobs/{job}/datums/{datum}")),
    ("GET", "/v1/pipelines/{pipeline}/logs"): (READ, req("GET", "/v1/pipelines/out/logs")),
    ("GET", "/v1/provenance"): (READ, req("GET", "/v1/provenance", params={"commit": "out@master"})),
    ("GET", "/v1/subvenance"): (READ, req("GET", "/v1/subvenance", params={"commit": "data@master"})),
    ("GET", "/v1/lineage"): (READ, req("GET", "/v1/lineage", params={"file": "out@master:/a.txt"})),
    ("GET", "/v1/version"): (OPEN, req("GET", "/v1/version")),
    # -- auth
    ("POST", "/v1/auth/activate"): (OPEN, req("POST", "/v1/auth/activate")),  # 409: already active
    ("POST", "/v1/auth/deactivate"): (ADMIN, req("POST", "/v1/auth/deactivate")),
    ("GET", "/v1/auth/whoami"): (AUTH, req("GET", "/v1/auth/whoami")),
    ("POST", "/v1/auth/tokens"): (ADMIN, req("POST", "/v1/auth/tokens", json={"subject": "robot:ci"})),
    ("POST", "/v1/auth/revoke"): (ADMIN, req("POST", "/v1/auth/revoke", json={"subject": "user:reader"})),
    ("GET", "/v1/auth/repos/{repo}/roles"): (READ, req("GET", "/v1/auth/repos/data/roles")),
    ("PUT", "/v1/auth/repos/{repo}/roles"):
        (OWN, req("PUT", "/v1/auth/repos/data/roles", json={"subject": "ann", "role": "repoReader"})),
    ("GET", "/v1/auth/cluster/roles"): (ADMIN, req("GET", "/v1/auth/cluster/roles")),
    ("PUT", "/v1/auth/cluster/roles"):
        (ADMIN, req("PUT", "/v1/auth/cluster/roles", json={"subject": "ann", "role": "clusterAdmin"})),
}
# What the first caller let through gets, where that is not a success.
NOT_2XX = {("POST", "/v1/auth/activate"): 409,  # auth is already on
           ("POST", "/v1/pipelines/{pipeline}/cron"): 400}  # out has no cron input


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("auth-world"))


@pytest.fixture
def served(world: World, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    """The app on a fresh copy of the world (no controller: nothing changes on its own)."""
    home = world.copy(tmp_path / "store")
    app = create_app(ServerConfig(home=home), run_controller=False)
    with TestClient(app, base_url="http://loxo.test", raise_server_exceptions=False) as http:
        yield http, home


def served_routes(http: TestClient) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, from its OpenAPI schema."""
    paths: dict[str, dict[str, Any]] = http.app.openapi()["paths"]  # type: ignore[attr-defined]
    return {(m.upper(), p) for p, methods in paths.items() for m in methods}


def test_every_route_has_a_rule(served: tuple[TestClient, Path]) -> None:
    http, _ = served
    api = {r for r in served_routes(http) if r[1].startswith("/v1/")}
    assert api - set(RULES) == set(), "give these routes a rule in RULES"
    assert set(RULES) - api == set(), "these rules name routes the app no longer serves"


def test_routes_outside_the_api_need_no_token(served: tuple[TestClient, Path]) -> None:
    """Health checks, metrics and the API docs answer without a token (probes have none)."""
    http, _ = served
    for method, path in sorted(served_routes(http)):
        if not path.startswith("/v1/") and method == "GET" and "{" not in path:
            assert http.get(path).status_code not in (401, 403), path
    assert http.get("/openapi.json").status_code == 200


@pytest.mark.parametrize("route", sorted(RULES), ids=lambda r: f"{r[0]} {r[1]}")
def test_only_callers_with_the_role_get_through(
    route: tuple[str, str], world: World, served: tuple[TestClient, Path]
) -> None:
    http, home = served
    need, make = RULES[route]
    for level, caller in enumerate(CALLERS):
        token = world.tokens[caller]
        method, url, kwargs = make(world)
        before = snapshot(home)
        response = http.request(method, url, headers={"Authorization": f"Bearer {token}"} if token else {},
                                **kwargs)
        where = f"{caller}: {method} {url} -> {response.status_code} {response.text[:300]}"
        if level < need:
            check_denied(response.status_code, response.json(), caller)
            assert snapshot(home) == before, f"a denied request changed the store; {where}"
        elif level == need:
            expected = NOT_2XX.get(route)
            assert (response.status_code == expected if expected
                    else 200 <= response.status_code < 300), where
        else:  # stronger callers get through too (what they act on may be gone by now)
            assert response.status_code not in (401, 403) and response.status_code < 500, where


def check_denied(status: int, body: dict[str, Any], caller: str) -> None:
    error = body["error"]
    if caller == "anonymous":
        assert (status, error["code"]) == (401, "unauthenticated")
        assert "loxo auth login" in error["message"]
    else:
        assert (status, error["code"]) == (403, "permission_denied")
        assert error["message"].startswith(f"user:{caller} may not ")
        assert "it needs " in error["message"]
