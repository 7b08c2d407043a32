"""The spec as written: one pydantic model per JSON object, leaf fields only.

Each model lists the leaf fields of one object of a Pachyderm spec under their snake_case
names (the reader in ``spec_normalize`` maps lowerCamelCase and other spellings onto
them first). Class-level tables tell the reader the rest:

- ``CHILDREN``: keys holding nested objects or lists of them, read by the normaliser;
- ``IGNORED``: Pachyderm fields loxo accepts and ignores (a warning saying why);
- ``UNSUPPORTED``: Pachyderm fields loxo refuses (an error saying what to do);
- ``ALIASES``: extra spellings (``URL`` for ``url``, 1.x ``atom`` is a child of its own);
- ``HINTS``: what to say when a required field is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, PlainValidator
from pydantic_core import PydanticCustomError

from loxo.pps import spec_values as v
from loxo.pps.spec_types import OUTPUT_MERGES, REPROCESS_SPECS, OutputMerge, ReprocessSpec

T = TypeVar("T")
CMD_EXAMPLE = '["python3", "/code/run.py"]'


def _check(parse: Callable[[Any], T]) -> PlainValidator:
    """A pydantic validator running ``parse``; its ``ValueProblem`` becomes a ``loxo`` error."""

    def run(value: Any) -> T:
        try:
            return parse(value)
        except v.ValueProblem as exc:
            raise PydanticCustomError("loxo", "{msg}", {"msg": exc.message, "sub": exc.sub}) from None

    return PlainValidator(run)


Str = Annotated[str, _check(v.as_str)]
OptStr = Annotated[str | None, _check(v.as_str)]
Bool = Annotated[bool, _check(v.as_bool)]
Count = Annotated[int | None, _check(v.as_int)]
Ratio = Annotated[float | None, _check(v.as_float)]
Duration = Annotated[float | None, _check(v.parse_duration)]
Quantity = Annotated[int | None, _check(v.parse_quantity)]
Cpu = Annotated[float | None, _check(v.parse_cpu)]
Time = Annotated[datetime | None, _check(v.parse_time)]
Cmd = Annotated[tuple[str, ...], _check(lambda x: v.as_str_list(x, CMD_EXAMPLE))]
Lines = Annotated[tuple[str, ...], _check(lambda x: v.as_str_list(x, '["line one", "line two"]'))]
Codes = Annotated[tuple[int, ...], _check(v.as_int_list)]
Env = Annotated[dict[str, str], _check(v.as_env)]
Reprocess = Annotated[ReprocessSpec, _check(lambda x: v.as_choice(x, REPROCESS_SPECS))]
Merge = Annotated[OutputMerge, _check(lambda x: v.as_choice(x, OUTPUT_MERGES))]

_K8S = "Kubernetes scheduling; loxo runs no pods"


class Wire(BaseModel):
    """Base of every spec object model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    CHILDREN: ClassVar[tuple[str, ...]] = ()
    IGNORED: ClassVar[Mapping[str, str]] = {}
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {}
    ALIASES: ClassVar[Mapping[str, str]] = {}
    HINTS: ClassVar[Mapping[str, str]] = {}


class PipelineWire(Wire):
    """The top level of one pipeline spec."""

    description: Str = ""
    datum_tries: Count = None
    datum_timeout: Duration = None
    job_timeout: Duration = None
    reprocess_spec: Reprocess = "until_success"
    output_branch: Str = "master"
    salt: OptStr = None
    output_merge: Merge = "error"

    CHILDREN = ("pipeline", "transform", "input", "parallelism_spec", "resource_requests",
                "resource_limits", "egress")
    IGNORED = {
        "pod_spec": _K8S,
        "pod_patch": _K8S,
        "scheduling_spec": _K8S,
        "tolerations": _K8S,
        "metadata": "Kubernetes labels and annotations",
        "autoscaling": "workers start when there is work",
        "standby": "workers start when there is work",
        "scale_down_threshold": "workers start when there is work",
        "enable_stats": "datum statistics are always kept",
        "cache_size": "no sidecar cache",
        "max_queue_size": "datums are handed out in sets",
        "chunk_spec": "datums are handed out in sets chosen by loxo",
        "datum_set_spec": "datums are handed out in sets chosen by loxo",
        "hashtree_spec": "no hashtree shards",
        "sidecar_resource_limits": "no sidecar container",
        "sidecar_resource_requests": "no sidecar container",
        "s3_out": "no S3 gateway; output is read from /pfs/out",
        "tf_job": "no TFJob support",
        "determined": "no Determined integration",
        "maximum_expected_uptime": "not used",
        "incremental": "1.7 field; datums are always incremental",
        "batch": "1.7 field",
        "spec_commit": "set by pachctl, not by users",
        "update": "set by pachctl, not by users; use `loxo update pipeline`",
        "reprocess": "set by pachctl, not by users; use `--reprocess`",
        "dry_run": "set by pachctl, not by users",
    }
    UNSUPPORTED = {
        "service": "not supported: loxo runs batch pipelines only (no service pipelines)",
        "spout": "not supported: loxo runs batch pipelines only (no spouts)",
    }


class PipelineNameWire(Wire):
    """``pipeline: {name}``."""

    name: Str

    IGNORED = {"project": "loxo has no projects"}
    HINTS = {"name": 'required (letters, digits, "-" and "_", such as "pre_process")'}


class TransformWire(Wire):
    """``transform``: the user code."""

    cmd: Cmd
    stdin: Lines = ()
    env: Env = {}
    image: OptStr = None
    err_cmd: Cmd = ()
    err_stdin: Lines = ()
    accept_return_code: Codes = ()
    working_dir: OptStr = None
    datum_batching: Bool = False

    IGNORED = {
        "secrets": "Kubernetes secrets",
        "image_pull_secrets": "Kubernetes secrets",
        "debug": "not used",
        "user": "user code runs as the loxo user",
        "dockerfile": "images are not built by loxo",
        "build": "images are not built by loxo",
        "memory_volume": "scratch space is chosen by loxo",
    }
    HINTS = {"cmd": f"required (a list of strings such as {CMD_EXAMPLE})"}


class ParallelismWire(Wire):
    """``parallelism_spec``: ``constant`` workers (2.x) or 1.x ``coefficient`` x nodes."""

    constant: Count = None
    coefficient: Ratio = None


class ResourcesWire(Wire):
    """``resource_requests`` / ``resource_limits``."""

    cpu: Cpu = None
    memory: Quantity = None
    disk: Quantity = None

    CHILDREN = ("gpu",)


class GpuWire(Wire):
    """``gpu: {type, number}``."""

    type: OptStr = None
    number: Count = None


class EgressWire(Wire):
    """``egress``: 1.x ``URL``, or 2.x ``object_storage.url``."""

    url: OptStr = None

    CHILDREN = ("object_storage",)
    ALIASES = {"URL": "url"}
    UNSUPPORTED = {"sql_database": "not supported: loxo egresses to a path or object store URL"}


class ObjectStorageWire(Wire):
    """``egress.object_storage``."""

    url: Str

    ALIASES = {"URL": "url"}
    HINTS = {"url": 'required (such as "s3://bucket/dir")'}


class InputWire(Wire):
    """``input``: exactly one of its children."""

    CHILDREN = ("pfs", "atom", "cross", "union", "join", "group", "cron")
    UNSUPPORTED = {"git": "not supported: commit the data to a repo and use a pfs input"}


class PfsWire(Wire):
    """``pfs`` (1.x ``atom``): one repo cut into datums by ``glob``."""

    repo: Str
    glob: Str
    name: OptStr = None
    branch: Str = "master"
    commit: OptStr = None
    empty_files: Bool = False
    lazy: Bool = False
    join_on: OptStr = None
    outer_join: Bool = False
    group_by: OptStr = None
    s3: Bool = False

    IGNORED = {
        "trigger": "branch triggers are not supported",
        "project": "loxo has no projects",
        "repo_type": "not used",
        "propagation_spec": "not used",
        "reference": "not used",
    }
    HINTS = {
        "repo": "required (the name of the repo to read)",
        "glob": 'required (a glob pattern such as "/*" or "/")',
    }


class CronWire(Wire):
    """``cron``: a tick repo."""

    name: Str
    spec: Str
    repo: OptStr = None
    start: Time = None
    overwrite: Bool = False

    IGNORED = {"project": "loxo has no projects", "commit": "not used"}
    HINTS = {
        "name": 'required (such as "tick")',
        "spec": 'required (a cron expression such as "*/10 * * * *", "@daily" or "@every 1h")',
    }
