"""From one spec object (as JSON/YAML gave it) to a ``PipelineSpec``, with every problem.

1.x and 2.x forms meet here: ``atom`` is ``pfs``, ``parallelism_spec.coefficient`` is a
multiple of one node, ``egress.URL`` and ``egress.object_storage.url`` are one URL.
Besides each field's own rules (``spec_wire``), the rules between fields:

- ``input`` holds exactly one of pfs, cross, union, join, group, cron;
- input names are unique in the whole tree, except between the inputs of a union
  (Pachyderm's rule: they are directories side by side under ``/pfs``);
- join and group take pfs inputs whose glob has a capture group ``( )`` and whose
  ``join_on`` / ``group_by`` refer to it;
- a pipeline never reads its own output repo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from loxo.errors import InvalidName
from loxo.model.address import check_branch_name, check_repo_name
from loxo.pps.inputs import CronInput, CrossInput, GroupInput, Input, JoinInput, PfsInput, UnionInput
from loxo.pps.spec_reader import Node, Reader, join
from loxo.pps.spec_types import DEFAULT_DATUM_TRIES, PipelineSpec, Resources, Transform
from loxo.pps.spec_values import ValueProblem, parse_duration, shown
from loxo.pps.spec_wire import (
    CMD_EXAMPLE,
    CronWire,
    EgressWire,
    GpuWire,
    InputWire,
    ObjectStorageWire,
    ParallelismWire,
    PfsWire,
    PipelineNameWire,
    PipelineWire,
    ResourcesWire,
    TransformWire,
)

INPUT_KINDS = "pfs, cross, union, join, group, cron"
_REQUIRED = {
    "pipeline": 'required (such as {"name": "edges"})',
    "transform": 'required (such as {"image": "python:3.12", "cmd": ["python3", "/code/run.py"]})',
    "input": f"required (exactly one of {INPUT_KINDS})",
}
_EGRESS_SCHEMES = frozenset(
    {"file", "s3", "gs", "gcs", "as", "az", "azure", "abfs", "abfss", "wasb", "wasbs", "minio"}
    | {"http", "https"}
)
_CRON_NAMED = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,?#-]+")
_CAPTURE = re.compile(r"\$\{?([0-9]+)\}?")

# (name, path) pairs: the input names a subtree puts side by side under /pfs.
Names = list[tuple[str, str]]


def normalize(raw: object, reader: Reader) -> PipelineSpec | None:
    """The spec in ``raw``, or ``None`` when ``reader`` collected problems."""
    top = reader.read(PipelineWire, raw, "")
    if top is None:
        return None
    for key, hint in _REQUIRED.items():
        if key not in top.raw:
            reader.error(key, hint)
    name = _pipeline_name(reader, top)
    transform = _transform(reader, top)
    node = _input(reader, top.raw["input"], top.at("input"), name, None)[0] if "input" in top.raw else None
    parallelism = _parallelism(reader, top)
    requests = _resources(reader, top, "resource_requests")
    limits = _resources(reader, top, "resource_limits")
    egress = _egress(reader, top)
    wire = top.wire
    if wire is not None:
        _branch_ok(reader, wire.output_branch, top.at("output_branch"))
    if reader.errors:
        return None
    # Every part that is None here was reported above.
    assert wire and name and transform and node and parallelism and requests and limits
    return PipelineSpec(
        name=name,
        transform=transform,
        input=node,
        description=wire.description,
        parallelism=parallelism,
        resource_requests=requests,
        resource_limits=limits,
        datum_tries=wire.datum_tries or DEFAULT_DATUM_TRIES,
        datum_timeout=wire.datum_timeout,
        job_timeout=wire.job_timeout,
        reprocess_spec=wire.reprocess_spec,
        output_branch=wire.output_branch,
        egress=egress,
        salt=wire.salt,
        output_merge=wire.output_merge,
    )


def _pipeline_name(reader: Reader, top: Node[PipelineWire]) -> str | None:
    if "pipeline" not in top.raw:
        return None
    node = reader.read(PipelineNameWire, top.raw["pipeline"], top.at("pipeline"))
    if node is None or node.wire is None:
        return None
    return _checked_name(reader, node.wire.name, node.at("name"))


def _checked_name(reader: Reader, name: str, path: str) -> str | None:
    try:
        return check_repo_name(name)
    except InvalidName as exc:
        reader.error(path, exc.message)
        return None


def _branch_ok(reader: Reader, branch: str, path: str) -> bool:
    try:
        check_branch_name(branch)
    except InvalidName as exc:
        reader.error(path, exc.message)
        return False
    return True


def _transform(reader: Reader, top: Node[PipelineWire]) -> Transform | None:
    if "transform" not in top.raw:
        return None
    node = reader.read(TransformWire, top.raw["transform"], top.at("transform"))
    if node is None or node.wire is None:
        return None
    w = node.wire
    if not w.cmd:
        reader.error(node.at("cmd"), f"must not be empty (a list of strings such as {CMD_EXAMPLE})")
        return None
    return Transform(
        cmd=w.cmd,
        stdin=w.stdin,
        env=dict(w.env),
        image=w.image,
        err_cmd=w.err_cmd,
        err_stdin=w.err_stdin,
        accept_return_code=w.accept_return_code,
        working_dir=w.working_dir,
        datum_batching=w.datum_batching,
    )


def _parallelism(reader: Reader, top: Node[PipelineWire]) -> int | None:
    if "parallelism_spec" not in top.raw:
        return 1
    node = reader.read(ParallelismWire, top.raw["parallelism_spec"], top.at("parallelism_spec"))
    if node is None or node.wire is None:
        return None
    constant, coefficient = node.wire.constant, node.wire.coefficient
    if constant is not None and coefficient is not None:
        reader.error(node.path, "give constant or coefficient, not both")
        return None
    if coefficient is not None:
        workers = max(1, round(coefficient * 1))
        reader.warn(
            f"{node.at('coefficient')}: {coefficient:g} x 1 node = {workers} worker"
            f"{'s' if workers > 1 else ''} (loxo embedded runs on one node)"
        )
        return workers
    return max(1, constant or 0)  # 0 means "one per node": one here


def _resources(reader: Reader, top: Node[PipelineWire], key: str) -> Resources | None:
    if key not in top.raw:
        return Resources()
    node = reader.read(ResourcesWire, top.raw[key], top.at(key))
    if node is None:
        return None
    gpu = reader.read(GpuWire, node.raw["gpu"], node.at("gpu")) if "gpu" in node.raw else None
    if node.wire is None or (gpu is not None and gpu.wire is None):
        return None
    w = node.wire
    number = gpu.wire.number if gpu is not None and gpu.wire is not None else None
    gpu_type = gpu.wire.type if gpu is not None and gpu.wire is not None else None
    return Resources(cpu=w.cpu, memory=w.memory, disk=w.disk, gpu=number or 0, gpu_type=gpu_type)


def _egress(reader: Reader, top: Node[PipelineWire]) -> str | None:
    if "egress" not in top.raw:
        return None
    node = reader.read(EgressWire, top.raw["egress"], top.at("egress"))
    if node is None or node.wire is None:
        return None
    url, where = node.wire.url, node.at("url")
    if "object_storage" in node.raw:
        storage = reader.read(ObjectStorageWire, node.raw["object_storage"], node.at("object_storage"))
        if url is not None:
            reader.error(node.path, "give URL or object_storage, not both")
            return None
        if storage is None or storage.wire is None:
            return None
        url, where = storage.wire.url, storage.at("url")
    if url is None:
        return None
    return url if _egress_ok(reader, url, where) else None


def _egress_ok(reader: Reader, url: str, where: str) -> bool:
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if scheme and scheme.group(1).lower() not in _EGRESS_SCHEMES:
        allowed = ", ".join(f"{s}://" for s in sorted(_EGRESS_SCHEMES))
        name = json.dumps(scheme.group(1))
        reader.error(where, f"unsupported URL scheme {name}; use an absolute path or {allowed}")
        return False
    if not scheme and not url.startswith("/"):
        reader.error(where, f'must be an absolute path or a URL such as "s3://bucket/dir", got {shown(url)}')
        return False
    return True


def _input(
    reader: Reader, raw: object, path: str, pipeline: str | None, under: str | None
) -> tuple[Input | None, Names]:
    """One input node at ``path``; ``under`` is the kind of its parent (``join`` ...)."""
    node = reader.read(InputWire, raw, path)
    if node is None:
        return None, []
    kinds = [k for k in InputWire.CHILDREN if k in node.raw]
    if len(kinds) != 1:
        given = f", got {' and '.join(node.spelled[k] for k in kinds)}" if kinds else ""
        reader.error(path, f"exactly one of {INPUT_KINDS}{given}")
        for kind in kinds:  # still report what is wrong inside each
            _input(reader, {node.spelled[kind]: node.raw[kind]}, path, pipeline, under)
        return None, []
    kind = kinds[0]
    value, where = node.raw[kind], node.at(kind)
    if under in ("join", "group") and kind not in ("pfs", "atom"):
        reader.error(path, f"the inputs of a {under} must be pfs inputs, got {node.spelled[kind]}")
        return None, []
    if kind in ("pfs", "atom"):
        return _pfs(reader, value, where, pipeline, under)
    if kind == "cron":
        return _cron(reader, value, where, pipeline)
    if not isinstance(value, list) or not value:
        reader.error(where, f'must be a non-empty list of inputs such as [{{"pfs": …}}], got {shown(value)}')
        return None, []
    built = [_input(reader, item, join(where, i), pipeline, kind) for i, item in enumerate(value)]
    names = _merge_names(reader, [n for _, n in built], union=kind == "union")
    children = [child for child, _ in built]
    if any(child is None for child in children):
        return None, names
    if kind == "cross":
        return CrossInput(tuple(c for c in children if c is not None)), names
    if kind == "union":
        return UnionInput(tuple(c for c in children if c is not None)), names
    leaves = tuple(c for c in children if isinstance(c, PfsInput))
    return (JoinInput(leaves) if kind == "join" else GroupInput(leaves)), names


def _merge_names(reader: Reader, groups: Sequence[Names], union: bool) -> Names:
    """The names of several children side by side; a repeat is an error except in a union."""
    seen: dict[str, str] = {}
    merged: Names = []
    for group in groups:
        for name, path in group:
            if name in seen:
                if not union:
                    reader.error(
                        path,
                        f"input name {json.dumps(name)} is already used by {seen[name]}; names must be "
                        'unique except between the inputs of a union (set "name" to tell them apart)',
                    )
                continue
            seen[name] = path
            merged.append((name, path))
    return merged


def _pfs(
    reader: Reader, raw: object, path: str, pipeline: str | None, under: str | None
) -> tuple[Input | None, Names]:
    node = reader.read(PfsWire, raw, path)
    if node is None or node.wire is None:
        return None, []
    w = node.wire
    ok = _checked_name(reader, w.repo, node.at("repo")) is not None
    name = w.repo if w.name is None else w.name
    if w.name is not None:
        ok = _checked_name(reader, w.name, node.at("name")) is not None and ok
    ok = _branch_ok(reader, w.branch, node.at("branch")) and ok
    if not w.glob.strip():
        reader.error(node.at("glob"), 'must not be empty (such as "/" for the whole repo or "/*")')
        ok = False
    if w.s3:
        reader.error(node.at("s3"), "not supported: inputs are files under /pfs/<name>")
        ok = False
    if w.lazy:
        reader.warn(f"{node.at('lazy')}: accepted and ignored (input files are always fully present)")
    if pipeline is not None and w.repo == pipeline:
        reader.error(node.at("repo"), f"a pipeline cannot read its own output repo {json.dumps(pipeline)}")
        ok = False
    ok = _keys_ok(reader, node, under) and ok
    if not ok:
        return None, []
    pfs = PfsInput(
        name=name,
        repo=w.repo,
        glob=w.glob,
        branch=w.branch,
        commit=w.commit,
        empty_files=w.empty_files,
        lazy=w.lazy,
        join_on=w.join_on,
        outer_join=w.outer_join,
        group_by=w.group_by,
    )
    return pfs, [(name, path)]


def _keys_ok(reader: Reader, node: Node[PfsWire], under: str | None) -> bool:
    """``join_on`` under a join, ``group_by`` under a group, each naming a capture group."""
    assert node.wire is not None
    w, ok = node.wire, True
    for kind, key, value in (("join", "join_on", w.join_on), ("group", "group_by", w.group_by)):
        if under != kind:
            if value is not None:
                reader.warn(f"{node.at(key)}: only used by the inputs of a {kind}; ignored here")
            continue
        groups = w.glob.count("(")
        if groups == 0 or not re.search(r"\(.*\)", w.glob):
            reader.error(node.at("glob"), f'must have a capture group "( )" under {kind}, such as "/(*).csv"')
            ok = False
        if value is None or not value.strip():
            reader.error(node.at(key), f'required under {kind} (a capture reference such as "$1")')
            ok = False
            continue
        for ref in _CAPTURE.findall(value):
            if groups and not 1 <= int(ref) <= groups:
                reader.error(node.at(key), f"refers to ${ref} but the glob has {groups} capture group(s)")
                ok = False
    if under != "join" and w.outer_join:
        reader.warn(f"{node.at('outer_join')}: only used by the inputs of a join; ignored here")
    return ok


def _cron(reader: Reader, raw: object, path: str, pipeline: str | None) -> tuple[Input | None, Names]:
    node = reader.read(CronWire, raw, path)
    if node is None or node.wire is None:
        return None, []
    w = node.wire
    ok = _checked_name(reader, w.name, node.at("name")) is not None
    repo = w.repo if w.repo is not None else f"{pipeline or ''}_{w.name}"
    if _checked_name(reader, repo, node.at("repo")) is None:
        ok = False
    elif pipeline is not None and repo == pipeline:
        reader.error(node.at("repo"), f"a pipeline cannot read its own output repo {json.dumps(pipeline)}")
        ok = False
    if not _cron_spec_ok(w.spec):
        reader.error(
            node.at("spec"),
            f'not a cron expression ("*/10 * * * *", "@daily", "@every 1h"), got {shown(w.spec)}',
        )
        ok = False
    if not ok:
        return None, []
    cron = CronInput(name=w.name, spec=w.spec, repo=repo, start=w.start, overwrite=w.overwrite)
    return cron, [(w.name, path)]


def _cron_spec_ok(spec: str) -> bool:
    text = spec.strip()
    if text.startswith("@every "):
        try:
            return parse_duration(text[len("@every ") :].strip()) > 0
        except ValueProblem:
            return False
    if text.startswith("@"):
        return text in _CRON_NAMED
    fields = text.split()
    return len(fields) in (5, 6) and all(_CRON_FIELD.fullmatch(f) for f in fields)
