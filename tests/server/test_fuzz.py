"""The API fuzzed from its own OpenAPI document with schemathesis.

Every operation gets generated requests, valid and invalid, against a store with some
content (repo ``data``: two commits, three files, a second branch; pipeline ``copy``
with one finished job). Each response must

- not be a 5xx and must match the status codes, content types and response schemas the
  document declares (schemathesis's own checks);
- carry no Python traceback or exception text;
- if it is an error, be ``{"error": {"code": str, "message": str}}``.

Random names rarely name anything, so hooks put the names of real things (``data``,
``master``, the job's id, ``/a.txt`` ...) in three of four generated path and query
parameters: requests then reach the core, not only its 404s.

Each operation runs against its own copy of the seeded store: a destructive operation
(delete repo, fsck with fix) cannot change what the next one sees. Generation is
derandomized, so a CI run is repeatable; raise ``EXAMPLES`` locally to dig deeper.
"""

from __future__ import annotations

import io
import re
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.python import asgi

import loxo
from loxo.pps.spec import spec_from_dict
from loxo.server import ServerConfig, create_app

EXAMPLES = 30  # per operation and phase; the whole run must fit a small CI budget

# Schema-valid requests may still get a 400: names, commit addresses, paths, glob patterns
# and pipeline specs are checked by the core (the one parser), beyond what the document's
# JSON Schema says. Everything else about positive data stays as schemathesis expects.
CONFIG = schemathesis.Config.from_dict({
    "generation": {"max-examples": EXAMPLES},
    "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "400", "401", "403", "404", "409"]}},
})


def without_prefix_items(node: Any) -> Any:
    """``node`` with each tuple schema (``prefixItems``) as an array of its members' union.

    Works around schemathesis 4.32.5, which cannot validate a response against a 3.1
    schema holding ``prefixItems`` (it rewrites them to draft-4 ``items: [...]`` and then
    meta-validates as 2020-12: "Invalid Schema Object in response definition"). loxo
    answers tuples in diff, provenance, preview and settle; their members are still
    checked, their order is not.
    """
    if isinstance(node, list):
        return [without_prefix_items(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: without_prefix_items(value) for key, value in node.items()}
    members = out.pop("prefixItems", None)
    if members is not None:
        out["items"] = {"anyOf": members}
    return out


# Building the app opens nothing (the store opens with its lifespan), so this is safe at
# import time; ``from_asgi`` would start the lifespan on a store at collection.
DOCUMENT = create_app(ServerConfig(home=Path("unused"))).openapi()
schema = schemathesis.openapi.from_dict(without_prefix_items(DOCUMENT), config=CONFIG)

# Names of real things in the seeded store, by parameter name (filled by ``seeded``).
KNOWN_IN_PATH: dict[str, list[str]] = {}
KNOWN_IN_QUERY: dict[str, list[str]] = {}

TRACE = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|"
    r"\b(?:[A-Z]\w*(?:Error|Exception)|KeyError|StopIteration)\b: |site-packages/|\.py\", line"
)


def seed(home: Path, scratch: Path) -> None:
    """Content for generated requests to find; ``KNOWN_*`` get the names of what it made."""
    spec = spec_from_dict({
        "pipeline": {"name": "copy"},
        "transform": {"cmd": ["sh", "-c", "cp -r /pfs/in/* /pfs/out/"]},
        "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}},
    }, "fuzz seed")
    with loxo.Client(home, sandbox=False, scratch=scratch) as client:
        client.create_repo("data", "fuzzed")
        first = client.put_file("data@master:/a.txt", b"alpha\n")
        client.put_file("data@master:/dir/b.csv", b"x,y\n1,2\n")
        client.put_file("data@master:/dir/c.bin", bytes(range(256)))
        client.create_branch("data@dev", f"data@{first.id}")
        client.create_pipeline(spec)
        jobs = client.list_job("copy")
        assert jobs and jobs[0].state == "success", jobs
        job = jobs[0]
        datums = client.pps.list_datum("copy", job.id)
        head = client.inspect_commit("data@master")
    KNOWN_IN_PATH.update({
        "repo": ["data", "copy"],
        "branch": ["master", "dev"],
        "commit": ["master", "master^", "dev", head.id, first.id],  # what follows the @
        "commit_id": [head.id, job.id],
        "pipeline": ["copy"],
        "job": [job.id],
        "datum": [d.id for d in datums],
    })
    KNOWN_IN_QUERY.update({
        "path": ["/", "/a.txt", "/dir", "/dir/b.csv"],
        "pattern": ["/*", "/dir/*", "**"],
        "branch": ["master", "dev"],
        "pipeline": ["copy"],
        "job": [job.id],
        "commit": ["data@master", "copy@master", f"data@{first.id}"],  # full addresses
        "old": ["data@master^:/", "data@dev:/a.txt"],
        "file": ["copy@master:/a.txt", "data@master:/dir/b.csv"],
    })


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The seeded store, made once; each operation gets a copy."""
    root = tmp_path_factory.mktemp("fuzz-seed")
    seed(root / "store", root / "scratch")
    yield root / "store"
    KNOWN_IN_PATH.clear()
    KNOWN_IN_QUERY.clear()


@pytest.fixture
def app(seeded: Path, tmp_path: Path) -> Iterator[FastAPI]:
    """A server on a fresh copy of the seeded store, running until the operation's
    examples are done. No cron ticks between requests (they would add commits)."""
    home = tmp_path / "store"
    shutil.copytree(seeded, home)
    application = create_app(ServerConfig(home=home, sandbox=False, scratch=tmp_path / "scratch",
                                          cron_interval=3600.0, json_logs=False))
    try:
        yield application
    finally:
        asgi.shutdown_lifespans()  # the store closes and the controller thread ends


def _mostly_known(values: Any, known: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    """``values`` with each string whose parameter names a known thing replaced by one
    of those names three times in four."""
    if not isinstance(values, dict):
        return st.just(values)

    def one(name: str, value: Any) -> st.SearchStrategy[Any]:
        names = known.get(name)
        if not names or not isinstance(value, str):
            return st.just(value)
        return st.integers(0, 3).flatmap(lambda n: st.just(value) if n == 0 else st.sampled_from(names))

    return st.fixed_dictionaries({name: one(name, value) for name, value in values.items()})


@schema.hook
def flatmap_path_parameters(_context: schemathesis.HookContext, path_parameters: dict[str, Any]
                            ) -> st.SearchStrategy[Any]:
    return _mostly_known(path_parameters, KNOWN_IN_PATH)


@schema.hook
def flatmap_query(_context: schemathesis.HookContext, query: dict[str, Any]) -> st.SearchStrategy[Any]:
    return _mostly_known(query, KNOWN_IN_QUERY)


# Upload bodies are bytes: the generated bytes go out as they are. For the tar upload,
# half the bodies are real tar streams whose member names are fuzzed, so the core's
# path checks are reached, not only the tar reader's refusal.
schemathesis.serializer.alias("application/x-tar", "application/octet-stream")
MEMBER_NAMES = st.one_of(
    st.sampled_from(["a.txt", "/dir/x.csv", "../up", "dir/../b", ".", "dir/", "a" * 300]),
    st.text(min_size=1, max_size=24),
)


def tar_of(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    operation = context.operation
    if operation is None or not (operation.method.upper() == "POST" and operation.path.endswith("/tar")):
        return st.just(body)
    members = st.lists(st.tuples(MEMBER_NAMES, st.binary(max_size=64)), max_size=3)
    return st.one_of(st.just(body), members.map(tar_of))


def _repeats_scalar_query(case: schemathesis.Case) -> bool:
    """A query parameter declared as one value, sent several times, and nothing else wrong."""
    meta = case.meta
    if meta is None or not isinstance(case.query, dict):
        return False
    negative = [loc for loc, info in meta.components.items() if info.mode.is_negative]
    if negative != ["query"]:  # locations are str enums
        return False
    declared = {p["name"]: p.get("schema", {}) for p in case.operation.definition.raw.get("parameters", [])
                if p.get("in") == "query"}
    return any(isinstance(value, list) and declared.get(name, {}).get("type") != "array"
               for name, value in case.query.items())


@schema.hook
def filter_failure(_context: schemathesis.HookContext, failure: Any, case: schemathesis.Case,
                   _response: schemathesis.Response) -> bool:
    """Drop one known, accepted behaviour: Starlette reads a repeated single-valued query
    parameter (``?limit=x&limit=5``) as its last value, like most web frameworks; that
    value was valid, or the request would have been refused."""
    return not (type(failure).__name__ == "AcceptedNegativeData" and _repeats_scalar_query(case))


def no_trace(_ctx: schemathesis.CheckContext, response: schemathesis.Response,
             _case: schemathesis.Case) -> bool:
    """No response, error or not, shows a traceback or Python exception text."""
    text = response.content.decode("utf-8", errors="replace") if response.content else ""
    found = TRACE.search(text)
    assert found is None, f"Python exception text in the response: {found.group(0)!r}"
    return True


def error_shape(_ctx: schemathesis.CheckContext, response: schemathesis.Response,
                _case: schemathesis.Case) -> bool:
    """Every 4xx/5xx is ``{"error": {"code": str, "message": str}}`` and nothing else."""
    if response.status_code < 400:
        return True
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"error answer is not JSON: {response.content[:200]!r}") from None
    assert isinstance(body, dict) and set(body) == {"error"}, f"not an error object: {body!r}"
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message"}, f"bad error: {error!r}"
    assert isinstance(error["code"], str) and error["code"], f"bad code: {error!r}"
    assert isinstance(error["message"], str), f"bad message: {error!r}"
    return True


@pytest.mark.slow
@pytest.mark.timeout(120)  # per operation; each takes a few seconds, all ~1.5 min on 2 cores
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_api(case: schemathesis.Case, app: FastAPI) -> None:
    case.call_and_validate(app=app, additional_checks=[no_trace, error_shape])
