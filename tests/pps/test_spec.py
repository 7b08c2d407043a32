"""Pipeline specs: 1.x and 2.x forms, every alias, every error path, warnings, round trips."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loxo.errors import InvalidArgument, SpecError
from loxo.pps.inputs import CronInput, CrossInput, GroupInput, JoinInput, PfsInput, UnionInput
from loxo.pps.spec import (
    LoadedSpec,
    PipelineSpec,
    Resources,
    Transform,
    format_duration,
    format_quantity,
    load_spec_file,
    load_specs,
    parse_duration,
    parse_quantity,
    spec_from_dict,
)
from loxo.pps.spec_values import ValueProblem, parse_cpu

SPECS = Path(__file__).parent / "specs"
ALL_FIXTURES = sorted(p for p in SPECS.rglob("*") if p.suffix in (".json", ".yaml"))


def base() -> dict[str, Any]:
    """A small valid 2.x spec; tests copy and change it."""
    return {
        "pipeline": {"name": "edges"},
        "transform": {"image": "pachyderm/opencv", "cmd": ["python3", "/edges.py"]},
        "input": {"pfs": {"repo": "images", "glob": "/*"}},
    }


def with_(**changes: Any) -> dict[str, Any]:
    """``base()`` with top-level keys replaced (``None`` deletes the key)."""
    spec = base()
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return spec


def load_one(spec: dict[str, Any] | str) -> LoadedSpec:
    text = spec if isinstance(spec, str) else json.dumps(spec)
    loaded = load_specs(text, "test.json")
    assert len(loaded) == 1
    return loaded[0]


def problems(spec: dict[str, Any] | str) -> tuple[str, ...]:
    text = spec if isinstance(spec, str) else json.dumps(spec)
    with pytest.raises(SpecError) as info:
        load_specs(text, "test.json")
    return info.value.problems


def pfs(repo: str, glob: str = "/*", **more: Any) -> dict[str, Any]:
    return {"pfs": {"repo": repo, "glob": glob, **more}}


# --- the iris workshop (Pachyderm 1.7) loads unchanged ----------------------------------

IRIS_EXPECTED = {
    "pre-process.json": PipelineSpec(
        name="pre_process",
        transform=Transform(
            cmd=("/bin/bash",),
            stdin=("python3 /code/pre_process.py $training /pfs/out/",),
            image="dwhitena/nb-to-prod:pre-process",
        ),
        input=PfsInput(name="training", repo="training", glob="/*"),
    ),
    "train.json": PipelineSpec(
        name="train",
        transform=Transform(
            cmd=(
                "python3",
                "/code/train.py",
                "/pfs/pre_process/x_train.csv",
                "/pfs/pre_process/y_train.csv",
                "/pfs/out/",
            ),
            image="dwhitena/nb-to-prod:train",
        ),
        input=PfsInput(name="pre_process", repo="pre_process", glob="/"),
    ),
    "infer.json": PipelineSpec(
        name="inference",
        transform=Transform(
            cmd=("/bin/bash",),
            stdin=("python3 /code/infer.py /pfs/train/model.pt $attributes /pfs/out/",),
            image="dwhitena/nb-to-prod:infer",
        ),
        input=CrossInput(
            (
                PfsInput(name="attributes", repo="attributes", glob="/*"),
                PfsInput(name="train", repo="train", glob="/"),
            )
        ),
    ),
}


@pytest.mark.parametrize("filename", sorted(IRIS_EXPECTED))
def test_iris_workshop_specs_load_unchanged(filename: str) -> None:
    path = SPECS / "iris" / filename
    assert '"atom"' in path.read_text() and '"constant": "1"' in path.read_text()
    [loaded] = load_spec_file(path)
    assert loaded.spec == IRIS_EXPECTED[filename]
    assert loaded.warnings == []


def test_several_yaml_pipelines_in_one_file() -> None:
    loaded = load_spec_file(SPECS / "pipelines.yaml")
    assert [item.spec.name for item in loaded] == ["edges", "montage", "matches", "ticker"]
    assert all(item.warnings == [] for item in loaded)
    edges, montage, matches, ticker = (item.spec for item in loaded)
    assert edges.description == "Edge detection with OpenCV."
    assert edges.input == PfsInput(name="images", repo="images", glob="/*")
    assert montage.transform.cmd == ("sh",)
    assert montage.transform.stdin[0].startswith("montage -shadow")
    assert montage.input == CrossInput(
        (PfsInput(name="images", repo="images", glob="/"), PfsInput(name="edges", repo="edges", glob="/"))
    )
    assert matches.input == JoinInput(
        (
            PfsInput(name="readings", repo="readings", glob="/(*).csv", join_on="$1", outer_join=True),
            PfsInput(name="parts", repo="parts", glob="/(*).txt", join_on="$1"),
        )
    )
    # YAML 1.1 would turn the key ON and the value on into booleans: both stay text here.
    assert matches.transform.env == {
        "LOG_LEVEL": "debug",
        "camelCaseName": "kept",
        "snake_case_name": "kept",
        "ON": "on",
        "RETRIES": "5",
    }
    assert matches.transform.err_cmd == ("true",)
    assert matches.transform.accept_return_code == (4, 5)
    assert matches.parallelism == 4
    assert matches.resource_requests == Resources(cpu=0.5, memory=64_000_000)
    assert matches.resource_limits == Resources(cpu=2.0, memory=2**30, gpu=1, gpu_type="nvidia.com/gpu")
    assert (matches.datum_tries, matches.datum_timeout, matches.job_timeout) == (5, 300.0, 5400.0)
    assert matches.reprocess_spec == "every_job"
    assert ticker.input == CronInput(
        name="tick",
        spec="@every 1h",
        repo="ticker_tick",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        overwrite=True,
    )
    assert (ticker.output_merge, ticker.output_branch) == ("append", "results")
    assert (ticker.egress, ticker.salt) == ("s3://bucket/ticks", "fixed-salt")


def test_snake_case_and_camel_case_give_equal_specs() -> None:
    [snake] = load_spec_file(SPECS / "full.snake.json")
    [camel] = load_spec_file(SPECS / "full.camel.json")
    assert "errCmd" in (SPECS / "full.camel.json").read_text()
    assert snake.spec == camel.spec
    assert snake.warnings == camel.warnings == []
    spec = snake.spec
    assert spec.transform == Transform(
        cmd=("python3", "/code/run.py"),
        stdin=("one", "two"),
        env={"MODE": "fast", "camelKey": "x", "snake_key": "y"},
        image="python:3.12",
        err_cmd=("sh",),
        err_stdin=("exit 0",),
        accept_return_code=(1, 2),
        working_dir="/code",
        datum_batching=True,
    )
    assert spec.input == UnionInput(
        (
            PfsInput(name="in", repo="a", glob="/*", branch="dev", empty_files=True),
            PfsInput(name="in", repo="b", glob="/*"),
            GroupInput(
                (
                    PfsInput(name="c", repo="c", glob="/(*)-(*).csv", group_by="$2"),
                    PfsInput(name="d", repo="d", glob="/(*).csv", group_by="$1"),
                )
            ),
        )
    )
    assert spec.parallelism == 2
    assert spec.resource_requests == Resources(cpu=0.5, memory=512 * 2**20, disk=10**10)
    assert spec.resource_limits == Resources(cpu=1.0, memory=1_200_000_000, gpu=2, gpu_type="nvidia.com/gpu")
    assert (spec.datum_tries, spec.datum_timeout, spec.job_timeout) == (4, 30.0, 7200.0)
    assert (spec.output_branch, spec.egress, spec.salt) == ("out", "/srv/exports", "abc")


# --- aliases: each variant loads to the same spec as its plain form ----------------------


def _set(path: str, value: Any) -> dict[str, Any]:
    """``base()`` with one nested key set (``a.b.c``); ``...=None`` removes it."""
    spec = base()
    *parents, last = path.split(".")
    node = spec
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return spec


ALIASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("atom is pfs", with_(input={"atom": {"repo": "images", "glob": "/*"}}), base()),
    (
        "constant as a string",
        _set("parallelism_spec", {"constant": "3"}),
        _set("parallelism_spec", {"constant": 3}),
    ),
    (
        "constant as a float",
        _set("parallelism_spec", {"constant": 3.0}),
        _set("parallelism_spec", {"constant": 3}),
    ),
    ("parallelismSpec", _set("parallelismSpec", {"constant": 3}), _set("parallelism_spec", {"constant": 3})),
    ("constant 0 is one worker", _set("parallelism_spec", {"constant": 0}), base()),
    ("datum_tries as a string", _set("datum_tries", "5"), _set("datum_tries", 5)),
    ("datumTries", _set("datumTries", 5), _set("datum_tries", 5)),
    ("datum_tries 0 is the default", _set("datum_tries", 0), base()),
    (
        "acceptReturnCode strings",
        _set("transform.acceptReturnCode", ["4", "5"]),
        _set("transform.accept_return_code", [4, 5]),
    ),
    ("errCmd / errStdin", _set("transform.errCmd", ["sh"]), _set("transform.err_cmd", ["sh"])),
    ("workingDir", _set("transform.workingDir", "/w"), _set("transform.working_dir", "/w")),
    ("datumBatching string", _set("transform.datumBatching", "true"), _set("transform.datum_batching", True)),
    (
        "joinOn / outerJoin",
        with_(input={"join": [pfs("a", "/(*)", joinOn="$1", outerJoin=True), pfs("b", "/(*)", joinOn="$1")]}),
        with_(
            input={"join": [pfs("a", "/(*)", join_on="$1", outer_join=True), pfs("b", "/(*)", join_on="$1")]}
        ),
    ),
    (
        "groupBy",
        with_(input={"group": [pfs("a", "/(*)", groupBy="$1")]}),
        with_(input={"group": [pfs("a", "/(*)", group_by="$1")]}),
    ),
    (
        "emptyFiles yes",
        with_(input=pfs("images", emptyFiles="yes")),
        with_(input=pfs("images", empty_files=True)),
    ),
    ("name defaults to repo", with_(input=pfs("images", name="images")), base()),
    ("branch defaults to master", with_(input=pfs("images", branch="master")), base()),
    ("egress.URL", _set("egress", {"URL": "s3://b/d"}), _set("egress", {"url": "s3://b/d"})),
    (
        "egress.object_storage.url",
        _set("egress", {"object_storage": {"url": "s3://b/d"}}),
        _set("egress", {"url": "s3://b/d"}),
    ),
    (
        "egress.objectStorage.URL",
        _set("egress", {"objectStorage": {"URL": "s3://b/d"}}),
        _set("egress", {"url": "s3://b/d"}),
    ),
    (
        "resourceLimits and gpu numbers as strings",
        _set(
            "resourceLimits",
            {"cpu": "1.5", "memory": "1Gi", "gpu": {"type": "nvidia.com/gpu", "number": "1"}},
        ),
        _set(
            "resource_limits",
            {"cpu": 1.5, "memory": str(2**30), "gpu": {"type": "nvidia.com/gpu", "number": 1}},
        ),
    ),
    (
        "cpu in millicores",
        _set("resource_requests", {"cpu": "250m"}),
        _set("resource_requests", {"cpu": 0.25}),
    ),
    ("durations as numbers", _set("datum_timeout", 90), _set("datum_timeout", "1m30s")),
    ("jobTimeout", _set("jobTimeout", "1h"), _set("job_timeout", 3600)),
    ("reprocessSpec", _set("reprocessSpec", "every_job"), _set("reprocess_spec", "every_job")),
    ("outputBranch", _set("outputBranch", "out"), _set("output_branch", "out")),
    ("outputMerge", _set("outputMerge", "append"), _set("output_merge", "append")),
    ("null is absent", _set("description", None) | {"salt": None, "egress": None}, base()),
]


@pytest.mark.parametrize(("variant", "plain"), [a[1:] for a in ALIASES], ids=[a[0] for a in ALIASES])
def test_aliases_load_like_their_plain_form(variant: dict[str, Any], plain: dict[str, Any]) -> None:
    assert json.dumps(variant) != json.dumps(plain)
    assert load_one(variant).spec == load_one(plain).spec
    assert load_one(variant).warnings == []


def test_every_field_reaches_the_spec() -> None:
    """The alias table above is only worth something if the plain forms differ from the base."""
    spec = load_one(
        _set("parallelism_spec", {"constant": 3}) | {"datum_tries": 5, "egress": {"url": "s3://b/d"}}
    ).spec
    assert (spec.parallelism, spec.datum_tries, spec.egress) == (3, 5, "s3://b/d")
    assert load_one(base()).spec == PipelineSpec(
        name="edges",
        transform=Transform(cmd=("python3", "/edges.py"), image="pachyderm/opencv"),
        input=PfsInput(name="images", repo="images", glob="/*"),
    )


@pytest.mark.parametrize(("coefficient", "workers"), [(0.5, 1), (1, 1), ("2", 2), (3.4, 3), (2.6, 3), (0, 1)])
def test_coefficient_is_a_multiple_of_one_node(coefficient: Any, workers: int) -> None:
    loaded = load_one(with_(parallelism_spec={"coefficient": coefficient}))
    assert loaded.spec.parallelism == workers
    [warning] = loaded.warnings
    assert warning.startswith("parallelism_spec.coefficient: ")
    assert f"= {workers} worker" in warning and "one node" in warning


# --- errors: every problem, with its path and what is allowed ---------------------------

ERRORS: list[tuple[str, dict[str, Any] | str, str]] = [
    (
        "glob missing under cross",
        with_(input={"cross": [pfs("a"), {"pfs": {"repo": "b"}}]}),
        'input.cross[1].pfs.glob: required (a glob pattern such as "/*" or "/")',
    ),
    (
        "glob missing under atom keeps the spelling",
        with_(input={"cross": [pfs("a"), {"atom": {"repo": "b"}}]}),
        'input.cross[1].atom.glob: required (a glob pattern such as "/*" or "/")',
    ),
    (
        "repo missing",
        with_(input={"pfs": {"glob": "/"}}),
        "input.pfs.repo: required (the name of the repo to read)",
    ),
    (
        "cmd missing",
        _set("transform.cmd", None),
        'transform.cmd: required (a list of strings such as ["python3", "/code/run.py"])',
    ),
    (
        "cmd a string",
        _set("transform.cmd", "python3 run.py"),
        'transform.cmd: must be a list of strings such as ["python3", "/code/run.py"], got "python3 run.py"',
    ),
    (
        "cmd empty",
        _set("transform.cmd", []),
        'transform.cmd: must not be empty (a list of strings such as ["python3", "/code/run.py"])',
    ),
    (
        "cmd item not a string",
        _set("transform.cmd", ["python3", ["x"]]),
        "transform.cmd[1]: must be a string, got a list",
    ),
    (
        "stdin item a boolean",
        _set("transform.stdin", [True]),
        "transform.stdin[0]: must be a string (quote it), got true",
    ),
    (
        "env value an object",
        _set("transform.env", {"camelKey": {"a": 1}}),
        "transform.env.camelKey: must be a string, got an object",
    ),
    (
        "env a list",
        _set("transform.env", ["A=1"]),
        'transform.env: must be an object of names to strings such as {"MODE": "fast"}, got a list',
    ),
    (
        "two input kinds",
        with_(input={"pfs": {"repo": "a", "glob": "/"}, "cross": [pfs("b")]}),
        "input: exactly one of pfs, cross, union, join, group, cron, got pfs and cross",
    ),
    ("no input kind", with_(input={}), "input: exactly one of pfs, cross, union, join, group, cron"),
    ("input a list", with_(input=[pfs("a")]), "input: must be an object, got a list"),
    ("pipeline missing", with_(pipeline=None), 'pipeline: required (such as {"name": "edges"})'),
    (
        "name missing",
        with_(pipeline={}),
        'pipeline.name: required (letters, digits, "-" and "_", such as "pre_process")',
    ),
    (
        "name invalid",
        with_(pipeline={"name": "my pipe"}),
        "pipeline.name: repo name 'my pipe' is invalid: use only letters, digits, '-' and '_'",
    ),
    (
        "transform missing",
        with_(transform=None),
        'transform: required (such as {"image": "python:3.12", "cmd": ["python3", "/code/run.py"]})',
    ),
    (
        "input missing",
        with_(input=None),
        "input: required (exactly one of pfs, cross, union, join, group, cron)",
    ),
    (
        "constant two",
        _set("parallelism_spec", {"constant": "two"}),
        'parallelism_spec.constant: must be a whole number >= 0, got "two"',
    ),
    (
        "constant negative",
        _set("parallelismSpec", {"constant": -1}),
        "parallelismSpec.constant: must be a whole number >= 0, got -1",
    ),
    (
        "constant and coefficient",
        _set("parallelism_spec", {"constant": 1, "coefficient": 1}),
        "parallelism_spec: give constant or coefficient, not both",
    ),
    (
        "datum_timeout not a duration",
        _set("datum_timeout", "soon"),
        'datum_timeout: not a duration ("30s", "5m", "1h30m", "300ms") or a number of seconds, got "soon"',
    ),
    (
        "job_timeout negative",
        _set("job_timeout", -5),
        'job_timeout: not a duration ("30s", "5m", "1h30m", "300ms") or a number of seconds, got -5',
    ),
    ("datum_tries fractional", _set("datum_tries", 1.5), "datum_tries: must be a whole number >= 0, got 1.5"),
    (
        "memory 1GB",
        _set("resource_limits", {"memory": "1GB"}),
        'resource_limits.memory: not a quantity ("64M", "1.2G", "512Mi", "1Gi", or a number of bytes), '
        'got "1GB"',
    ),
    (
        "cpu words",
        _set("resource_requests", {"cpu": "lots"}),
        'resource_requests.cpu: not a number of CPUs (0.5, 2, "500m"), got "lots"',
    ),
    (
        "gpu number",
        _set("resource_limits", {"gpu": {"number": "x"}}),
        'resource_limits.gpu.number: must be a whole number >= 0, got "x"',
    ),
    (
        "reprocess_spec",
        _set("reprocess_spec", "sometimes"),
        'reprocess_spec: must be one of "until_success", "every_job", got "sometimes"',
    ),
    (
        "output_merge",
        _set("output_merge", "concat"),
        'output_merge: must be one of "error", "append", got "concat"',
    ),
    (
        "output_branch",
        _set("output_branch", "a/b"),
        "output_branch: branch name 'a/b' is invalid: use only letters, digits, '-' and '_'",
    ),
    (
        "duplicate names under cross",
        with_(input={"cross": [pfs("a"), pfs("b", name="a")]}),
        'input.cross[1].pfs: input name "a" is already used by input.cross[0].pfs; names must be unique '
        'except between the inputs of a union (set "name" to tell them apart)',
    ),
    (
        "cross with a union that repeats a crossed name",
        with_(input={"cross": [pfs("a"), {"union": [pfs("b", name="x"), pfs("a")]}]}),
        'input.cross[1].union[1].pfs: input name "a" is already used by input.cross[0].pfs; names must be '
        'unique except between the inputs of a union (set "name" to tell them apart)',
    ),
    (
        "duplicate names under join",
        with_(input={"join": [pfs("a", "/(*)", join_on="$1")] * 2}),
        'input.join[1].pfs: input name "a" is already used by input.join[0].pfs; names must be unique '
        'except between the inputs of a union (set "name" to tell them apart)',
    ),
    (
        "empty cross",
        with_(input={"cross": []}),
        'input.cross: must be a non-empty list of inputs such as [{"pfs": …}], got an empty list',
    ),
    (
        "join of a cross",
        with_(input={"join": [pfs("a", "/(*)", join_on="$1"), {"cross": [pfs("b")]}]}),
        "input.join[1]: the inputs of a join must be pfs inputs, got cross",
    ),
    (
        "join glob without capture",
        with_(input={"join": [pfs("a", "/*", join_on="$1")]}),
        'input.join[0].pfs.glob: must have a capture group "( )" under join, such as "/(*).csv"',
    ),
    (
        "join_on missing",
        with_(input={"join": [pfs("a", "/(*)")]}),
        'input.join[0].pfs.join_on: required under join (a capture reference such as "$1")',
    ),
    (
        "join_on out of range",
        with_(input={"join": [pfs("a", "/(*)", join_on="$2")]}),
        "input.join[0].pfs.join_on: refers to $2 but the glob has 1 capture group(s)",
    ),
    (
        "group_by missing",
        with_(input={"group": [pfs("a", "/(*)")]}),
        'input.group[0].pfs.group_by: required under group (a capture reference such as "$1")',
    ),
    (
        "group of a cron",
        with_(input={"group": [{"cron": {"name": "t", "spec": "@daily"}}]}),
        "input.group[0]: the inputs of a group must be pfs inputs, got cron",
    ),
    (
        "own output repo",
        with_(input=pfs("edges")),
        'input.pfs.repo: a pipeline cannot read its own output repo "edges"',
    ),
    (
        "own output repo deep",
        with_(input={"union": [pfs("a"), {"cross": [pfs("b"), pfs("edges")]}]}),
        'input.union[1].cross[1].pfs.repo: a pipeline cannot read its own output repo "edges"',
    ),
    (
        "cron spec",
        with_(input={"cron": {"name": "tick", "spec": "every hour"}}),
        'input.cron.spec: not a cron expression ("*/10 * * * *", "@daily", "@every 1h"), got "every hour"',
    ),
    (
        "cron @every bad",
        with_(input={"cron": {"name": "tick", "spec": "@every soon"}}),
        'input.cron.spec: not a cron expression ("*/10 * * * *", "@daily", "@every 1h"), got "@every soon"',
    ),
    (
        "cron name missing",
        with_(input={"cron": {"spec": "@daily"}}),
        'input.cron.name: required (such as "tick")',
    ),
    (
        "cron start",
        with_(input={"cron": {"name": "t", "spec": "@daily", "start": "yesterday"}}),
        'input.cron.start: not an RFC 3339 time such as "2024-01-01T00:00:00Z", got "yesterday"',
    ),
    (
        "service",
        with_(service={"external_port": 80}),
        "service: not supported: loxo runs batch pipelines only (no service pipelines)",
    ),
    ("spout", with_(spout={}), "spout: not supported: loxo runs batch pipelines only (no spouts)"),
    (
        "git input",
        with_(input={"git": {"URL": "https://github.com/x/y"}}),
        "input.git: not supported: commit the data to a repo and use a pfs input",
    ),
    (
        "s3 input",
        with_(input=pfs("images", s3=True)),
        "input.pfs.s3: not supported: inputs are files under /pfs/<name>",
    ),
    (
        "sql egress",
        _set("egress", {"sql_database": {"url": "pg://"}}),
        "egress.sql_database: not supported: loxo egresses to a path or object store URL",
    ),
    (
        "egress scheme",
        _set("egress", {"URL": "ftp://host/dir"}),
        'egress.URL: unsupported URL scheme "ftp"; use an absolute path or abfs://, abfss://, as://, az://, '
        "azure://, file://, gcs://, gs://, http://, https://, minio://, s3://, wasb://, wasbs://",
    ),
    (
        "egress relative",
        _set("egress", {"URL": "out/"}),
        'egress.URL: must be an absolute path or a URL such as "s3://bucket/dir", got "out/"',
    ),
    (
        "egress twice",
        _set("egress", {"URL": "s3://a", "object_storage": {"url": "s3://b"}}),
        "egress: give URL or object_storage, not both",
    ),
    (
        "both spellings",
        with_(input={"join": [pfs("a", "/(*)", join_on="$1", joinOn="$1")]}),
        "input.join[0].pfs.joinOn: given twice, as join_on and joinOn; keep one",
    ),
    (
        "key twice in JSON",
        '{"pipeline": {"name": "a"}, "pipeline": {"name": "b"},'
        ' "transform": {"cmd": ["x"]}, "input": {"pfs": {"repo": "r", "glob": "/"}}}',
        "pipeline: given more than once",
    ),
    (
        "empty glob",
        with_(input=pfs("images", " ")),
        'input.pfs.glob: must not be empty (such as "/" for the whole repo or "/*")',
    ),
    ("not an object", "[1]", "must be an object, got 1"),
]


@pytest.mark.parametrize(("spec", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error_names_the_field_path_and_what_is_allowed(spec: dict[str, Any] | str, expected: str) -> None:
    found = problems(spec)
    assert expected in found, "\n".join(found)


def test_union_may_repeat_names() -> None:
    spec = load_one(with_(input={"union": [pfs("a", name="in"), pfs("b", name="in")]})).spec
    assert isinstance(spec.input, UnionInput)
    assert [leaf.name for leaf in spec.input.inputs if isinstance(leaf, PfsInput)] == ["in", "in"]


def test_every_problem_is_reported_at_once() -> None:
    spec = {
        "pipeline": {"name": "bad name"},
        "transform": {"cmd": "run"},
        "input": {"cross": [pfs("a"), {"pfs": {"repo": "b"}}, pfs("a")], "pfs": {"glob": "/"}},
        "parallelism_spec": {"constant": "two"},
        "datum_timeout": "soon",
        "resource_limits": {"memory": "lots"},
        "service": {},
    }
    found = problems(spec)
    assert sorted(line.split(": ")[0] for line in found) == [
        "datum_timeout",
        "input",
        "input.cross[1].pfs.glob",
        "input.cross[2].pfs",
        "input.pfs.repo",
        "parallelism_spec.constant",
        "pipeline.name",
        "resource_limits.memory",
        "service",
        "transform.cmd",
    ]


def test_error_message_lists_problems_under_the_source_and_pipeline() -> None:
    with pytest.raises(SpecError) as info:
        load_specs(json.dumps(_set("transform.cmd", None) | {"datum_tries": -1}), "specs/edges.json")
    err = info.value
    assert isinstance(err, InvalidArgument) and err.code == "invalid_spec" and err.status == 400
    assert err.message.splitlines() == [
        'invalid spec in specs/edges.json, pipeline "edges": 2 problems',
        "  - datum_tries: must be a whole number >= 0, got -1",
        '  - transform.cmd: required (a list of strings such as ["python3", "/code/run.py"])',
    ]


def test_errors_in_several_documents_are_reported_together() -> None:
    good, bad1, bad2 = base(), _set("datum_tries", "x"), with_(pipeline={"name": "other"}, transform={})
    text = json.dumps(good) + json.dumps(bad1) + json.dumps(bad2)
    with pytest.raises(SpecError) as info:
        load_specs(text, "all.json")
    assert info.value.problems == (
        'pipeline "edges" (document 2): datum_tries: must be a whole number >= 0, got "x"',
        'pipeline "other" (document 3): transform.cmd: required (a list of strings such as '
        '["python3", "/code/run.py"])',
    )
    assert 'invalid spec in all.json, pipeline "other" (document 3): 1 problem' in info.value.message


def test_a_pipeline_defined_twice_in_one_file() -> None:
    text = json.dumps([base(), with_(description="again")])
    with pytest.raises(SpecError) as info:
        load_specs(text)
    assert info.value.problems == (
        'pipeline "edges" (document 2): pipeline.name: "edges" is already defined by document 1',
    )


# --- warnings: unknown and ignored fields -------------------------------------------------

IGNORED_TOP = [
    "pod_spec",
    "pod_patch",
    "scheduling_spec",
    "autoscaling",
    "standby",
    "enable_stats",
    "cache_size",
    "max_queue_size",
    "chunk_spec",
    "datum_set_spec",
    "sidecar_resource_limits",
    "tolerations",
    "metadata",
    "s3_out",
    "tf_job",
    "hashtree_spec",
]


@pytest.mark.parametrize("field", IGNORED_TOP)
def test_pachyderm_fields_loxo_ignores_are_warnings(field: str) -> None:
    loaded = load_one(with_(**{field: {"some": "value"}}))
    assert loaded.spec == load_one(base()).spec
    [warning] = loaded.warnings
    assert warning.startswith(f"{field}: accepted and ignored (")


@pytest.mark.parametrize(
    ("path", "spelled"),
    [
        ("transform.secrets", "transform.secrets"),
        ("transform.imagePullSecrets", "transform.imagePullSecrets"),
        ("podSpec", "podSpec"),
        ("pipeline.project", "pipeline.project"),
    ],
)
def test_ignored_fields_in_camel_case_and_nested(path: str, spelled: str) -> None:
    [warning] = load_one(_set(path, [{"name": "s"}])).warnings
    assert warning.startswith(f"{spelled}: accepted and ignored (")


def test_ignored_fields_set_to_their_default_say_nothing() -> None:
    loaded = load_one(with_(enable_stats=False, standby=False, s3_out=False, metadata={}, pod_spec=""))
    assert loaded.warnings == []


def test_unknown_fields_are_warnings_naming_the_path() -> None:
    spec = _set("transform.imagePullPolicy", "Always")
    spec["input"]["pfs"]["colour"] = "blue"
    spec["flavour"] = 1
    spec["transform"]["comd"] = ["x"]
    loaded = load_one(spec)
    assert loaded.spec == load_one(base()).spec
    assert loaded.warnings == [
        "unknown field flavour ignored",
        "unknown field transform.imagePullPolicy ignored",
        "unknown field transform.comd ignored (did you mean cmd?)",
        "unknown field input.pfs.colour ignored",
    ]


def test_unknown_keys_inside_env_are_just_variables() -> None:
    loaded = load_one(_set("transform.env", {"imagePullPolicy": "x", "parallelism_spec": "y"}))
    assert loaded.warnings == []
    assert loaded.spec.transform.env == {"imagePullPolicy": "x", "parallelism_spec": "y"}


@pytest.mark.parametrize(
    ("spec", "warning"),
    [
        (
            with_(input=pfs("images", lazy=True)),
            "input.pfs.lazy: accepted and ignored (input files are always fully present)",
        ),
        (
            with_(input=pfs("images", join_on="$1")),
            "input.pfs.join_on: only used by the inputs of a join; ignored here",
        ),
        (
            with_(input={"cross": [pfs("a", groupBy="$1"), pfs("b")]}),
            "input.cross[0].pfs.groupBy: only used by the inputs of a group; ignored here",
        ),
        (
            with_(input=pfs("images", outer_join=True)),
            "input.pfs.outer_join: only used by the inputs of a join; ignored here",
        ),
    ],
)
def test_input_fields_out_of_place_are_warnings(spec: dict[str, Any], warning: str) -> None:
    assert load_one(spec).warnings == [warning]


# --- texts: JSON objects one after another, arrays, YAML documents ----------------------


def test_concatenated_json_objects() -> None:
    other = with_(pipeline={"name": "other"})
    text = (
        json.dumps(base(), indent=2) + json.dumps(other) + "\n\n" + json.dumps(with_(pipeline={"name": "c"}))
    )
    assert [item.spec.name for item in load_specs(text)] == ["edges", "other", "c"]


def test_json_array_of_specs() -> None:
    text = "  \n" + json.dumps([base(), with_(pipeline={"name": "other"})])
    assert [item.spec.name for item in load_specs(text)] == ["edges", "other"]


def test_yaml_documents_with_empty_ones_skipped() -> None:
    text = """---
pipeline: {name: a}
transform: {cmd: [x]}
input: {pfs: {repo: r, glob: /}}
---
---
pipeline: {name: b}
transform: {cmd: [x]}
input: {atom: {repo: r, glob: /}}
...
"""
    assert [item.spec.name for item in load_specs(text)] == ["a", "b"]


def test_yaml_keeps_what_was_typed_in_string_fields() -> None:
    text = """
pipeline: {name: 2020}
transform:
  cmd: [echo, yes, no, on, 0755, 1:30, 2024-01-01]
  env: {on: yes, 1: off}
input: {pfs: {repo: on, glob: "/*", branch: no, emptyFiles: yes}}
"""
    spec = load_one(text).spec
    assert spec.name == "2020"
    assert spec.transform.cmd == ("echo", "yes", "no", "on", "0755", "1:30", "2024-01-01")
    assert spec.transform.env == {"on": "yes", "1": "off"}
    assert spec.input == PfsInput(name="on", repo="on", glob="/*", branch="no", empty_files=True)


def test_yaml_true_in_a_string_field_is_reported() -> None:
    text = "pipeline: {name: a}\ntransform: {cmd: [x]}\ninput: {pfs: {repo: r, glob: true}}\n"
    assert problems(text) == ("input.pfs.glob: must be a string (quote it), got true",)


def test_yaml_duplicate_keys_are_reported_but_merge_keys_are_not() -> None:
    dup = "pipeline: {name: a}\ntransform: {cmd: [x], cmd: [y]}\ninput: {pfs: {repo: r, glob: /}}\n"
    assert problems(dup) == ("transform.cmd: given more than once",)
    merged = """
defaults: &defaults {repo: r, glob: /}
pipeline: {name: a}
transform: {cmd: [x]}
input: {pfs: {<<: *defaults, glob: /*}}
"""
    loaded = load_one(merged)
    assert loaded.spec.input == PfsInput(name="r", repo="r", glob="/*")
    assert loaded.warnings == ["unknown field defaults ignored"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"pipeline": {"name": "a"},\n  "transform": }', "t.json:2:16: not valid JSON: Expecting value"),
        ("{}\n[1,", "t.json:2:4: not valid JSON: Expecting value"),
        (
            "pipeline: {name: a\ntransform: x\n",
            "t.json:2:10: not valid YAML: expected ',' or '}', but got ':'",
        ),
        ("a: b\n\tc: d\n", "t.json:2:1: not valid YAML: found character '\\t' that cannot start any token"),
        ("", "t.json: no pipeline spec found"),
        ("  \n# only a comment\n", "t.json: no pipeline spec found"),
        ("[]", "t.json: no pipeline spec found"),
    ],
)
def test_unreadable_texts(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_specs(text, "t.json")
    assert info.value.message == message


def test_load_spec_file_names_an_unreadable_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(SpecError, match=f"cannot read spec file {missing}: No such file or directory"):
        load_spec_file(missing)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe{")
    with pytest.raises(SpecError, match="not UTF-8 text"):
        load_spec_file(binary)


def test_load_spec_file_uses_the_path_in_messages(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("pipeline: {name: a}\ninput: {pfs: {repo: r, glob: /}}\n")
    with pytest.raises(SpecError) as info:
        load_spec_file(path)
    assert info.value.message.startswith(f'invalid spec in {path}, pipeline "a": 1 problem')


# --- round trips through to_dict -----------------------------------------------------------


def _fixture_specs() -> list[PipelineSpec]:
    return [item.spec for path in ALL_FIXTURES for item in load_spec_file(path)]


def test_every_fixture_is_used() -> None:
    assert len(ALL_FIXTURES) == 6 and len(_fixture_specs()) == 9


@pytest.mark.parametrize("spec", _fixture_specs(), ids=lambda s: s.name)
def test_to_dict_round_trips(spec: PipelineSpec) -> None:
    data = spec.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert spec_from_dict(data) == spec
    again = load_one(json.dumps(data))
    assert again.spec == spec and again.warnings == []
    assert again.spec.to_dict() == data
    assert "atom" not in json.dumps(data) and "parallelism_spec" in data


def test_to_dict_is_pachyderm_2x_form() -> None:
    [spec] = load_spec_file(SPECS / "full.camel.json")
    data = spec.spec.to_dict()
    assert data["pipeline"] == {"name": "everything"}
    assert data["transform"]["err_cmd"] == ["sh"] and data["transform"]["accept_return_code"] == [1, 2]
    assert data["transform"]["env"] == {"MODE": "fast", "camelKey": "x", "snake_key": "y"}
    assert data["input"]["union"][0] == {
        "pfs": {"name": "in", "repo": "a", "branch": "dev", "glob": "/*", "empty_files": True}
    }
    assert data["parallelism_spec"] == {"constant": 2}
    assert data["resource_requests"] == {"cpu": 0.5, "memory": "512Mi", "disk": "10G"}
    assert data["resource_limits"] == {
        "cpu": 1.0,
        "memory": "1200M",
        "gpu": {"type": "nvidia.com/gpu", "number": 2},
    }
    assert (data["datum_timeout"], data["job_timeout"]) == ("30s", "2h")
    assert data["egress"] == {"URL": "/srv/exports"}
    assert (data["datum_tries"], data["output_merge"], data["reprocess_spec"]) == (
        4,
        "error",
        "until_success",
    )


def test_spec_from_dict_reports_problems() -> None:
    broken = copy.deepcopy(base())
    broken["transform"]["cmd"] = 3
    with pytest.raises(SpecError) as info:
        spec_from_dict(broken)
    assert info.value.problems == (
        'transform.cmd: must be a list of strings such as ["python3", "/code/run.py"], got 3',
    )


# --- leaf values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64M", 64_000_000),
        ("1.2G", 1_200_000_000),
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("1k", 1000),
        ("1Ki", 1024),
        ("2Ti", 2 * 2**40),
        ("1e3", 1000),
        ("1E", 10**18),
        ("0.5", 1),
        ("100m", 1),
        ("1500", 1500),
        (2048, 2048),
        (" 1G ", 10**9),
        ("0", 0),
        (".5Ki", 512),
    ],
)
def test_memory_quantities(text: str | int, size: int) -> None:
    assert parse_quantity(text) == size


@pytest.mark.parametrize("text", ["1GB", "1 G", "G", "-1G", "1g", "", "1.2.3M", True, None, [1]])
def test_bad_memory_quantities(text: object) -> None:
    with pytest.raises(ValueProblem, match="not a quantity"):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("300ms", 0.3),
        ("1.5s", 1.5),
        ("2h45m30.5s", 9930.5),
        ("100us", 0.0001),
        ("100µs", 0.0001),
        ("10ns", 1e-8),
        ("0", 0.0),
        ("30", 30.0),
        (45, 45.0),
        (0.25, 0.25),
        ("1h1h", 7200.0),
    ],
)
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1d", "soon", "-5s", "1 s", "", "s", True, -1, float("inf"), "1h-5m"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueProblem, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "cpus"), [("500m", 0.5), ("2", 2.0), (0.25, 0.25), ("1.5", 1.5), (1, 1.0)])
def test_cpus(text: str | float, cpus: float) -> None:
    assert parse_cpu(text) == cpus


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (30.0, "30s"),
        (5400.0, "1h30m"),
        (3601.0, "1h1s"),
        (0.3, "0.3s"),
        (90000.0, "25h"),
        (1e-05, "0.00001s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0"),
        (1000, "1k"),
        (1024, "1Ki"),
        (64_000_000, "64M"),
        (2**30, "1Gi"),
        (1_200_000_000, "1200M"),
        (1023, "1023"),
    ],
)
def test_format_quantity(size: int, text: str) -> None:
    assert format_quantity(size) == text


@given(st.integers(min_value=0, max_value=2**70))
def test_quantities_round_trip(size: int) -> None:
    assert parse_quantity(format_quantity(size)) == size


@given(st.floats(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False))
def test_durations_round_trip(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


# --- round trip of any valid spec ----------------------------------------------------------

NAMES = st.sampled_from(["a", "images", "raw-data", "x_1", "b2", "z" * 62])
TEXTS = st.text(max_size=12)
ENV_NAMES = st.text(
    st.characters(exclude_characters="=\x00", exclude_categories=["Cs"]), min_size=1, max_size=8
)


@st.composite
def input_trees(draw: st.DrawFn, fresh: list[int], depth: int = 0) -> Any:
    """A valid input tree: leaves get unique names ``in0``, ``in1`` ..."""

    def next_name() -> str:
        fresh[0] += 1
        return f"in{fresh[0]}"

    kinds = ["pfs", "cron", "cross", "union", "join", "group"] if depth < 2 else ["pfs", "cron"]
    kind = draw(st.sampled_from(kinds))
    if kind == "pfs":
        return PfsInput(
            name=next_name(),
            repo=draw(NAMES),
            glob=draw(st.sampled_from(["/", "/*", "/**", "/data/*.csv"])),
            branch=draw(NAMES),
            commit=draw(st.none() | NAMES),
            empty_files=draw(st.booleans()),
            lazy=draw(st.booleans()),
        )
    if kind == "cron":
        return CronInput(
            name=next_name(),
            spec=draw(st.sampled_from(["@daily", "*/5 * * * *", "@every 90s", "0 0 * * * *"])),
            repo=draw(NAMES),
            start=draw(st.none() | st.datetimes(timezones=st.just(UTC))),
            overwrite=draw(st.booleans()),
        )
    if kind in ("join", "group"):
        leaves = []
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(["$1", "$2", "$1$2"]))
            leaves.append(
                PfsInput(
                    name=next_name(),
                    repo=draw(NAMES),
                    glob="/(*)-(*).csv",
                    join_on=key if kind == "join" else None,
                    outer_join=kind == "join" and draw(st.booleans()),
                    group_by=key if kind == "group" else None,
                )
            )
        return (JoinInput if kind == "join" else GroupInput)(tuple(leaves))
    children = draw(st.lists(input_trees(fresh, depth + 1), min_size=1, max_size=3))
    return (CrossInput if kind == "cross" else UnionInput)(tuple(children))


@st.composite
def resources(draw: st.DrawFn) -> Resources:
    small = st.floats(min_value=0, max_value=1e6, allow_nan=False)
    return Resources(
        cpu=draw(st.none() | small),
        memory=draw(st.none() | st.integers(0, 2**70)),
        disk=draw(st.none() | st.integers(0, 2**50)),
        gpu=draw(st.integers(0, 8)),
        gpu_type=draw(st.none() | st.just("nvidia.com/gpu")),
    )


@st.composite
def pipeline_specs(draw: st.DrawFn) -> PipelineSpec:
    seconds = st.none() | st.floats(min_value=0, max_value=1e7, allow_nan=False)
    lines = st.lists(TEXTS, max_size=3).map(tuple)
    return PipelineSpec(
        name="P" + draw(NAMES),  # never one of the repos, which start lower case
        transform=Transform(
            cmd=tuple(draw(st.lists(TEXTS, min_size=1, max_size=3))),
            stdin=draw(lines),
            env=draw(st.dictionaries(ENV_NAMES, TEXTS, max_size=3)),
            image=draw(st.none() | TEXTS),
            err_cmd=draw(lines),
            err_stdin=draw(lines),
            accept_return_code=tuple(draw(st.lists(st.integers(0, 255), max_size=3))),
            working_dir=draw(st.none() | TEXTS),
            datum_batching=draw(st.booleans()),
        ),
        input=draw(input_trees([0])),
        description=draw(TEXTS),
        parallelism=draw(st.integers(1, 64)),
        resource_requests=draw(resources()),
        resource_limits=draw(resources()),
        datum_tries=draw(st.integers(1, 10)),
        datum_timeout=draw(seconds),
        job_timeout=draw(seconds),
        reprocess_spec=draw(st.sampled_from(["until_success", "every_job"])),
        output_branch=draw(NAMES),
        egress=draw(st.sampled_from([None, "s3://bucket/dir", "/srv/out", "file:///tmp/x"])),
        salt=draw(st.none() | TEXTS),
        output_merge=draw(st.sampled_from(["error", "append"])),
    )


@settings(max_examples=40, deadline=None)
@given(pipeline_specs())
def test_any_spec_round_trips_through_to_dict(spec: PipelineSpec) -> None:
    data = spec.to_dict()
    assert spec_from_dict(data) == spec
    [again] = load_specs(json.dumps(data))
    assert again.spec == spec
    assert again.spec.to_dict() == data
