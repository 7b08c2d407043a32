"""A pipeline spec once read: frozen, typed, defaults filled in; and its canonical dict.

``PipelineSpec.to_dict()`` writes Pachyderm 2.x field names (plus loxo's ``output_merge``)
in one fixed shape, so a spec can be stored, versioned, hashed and shown; reading that
dict back (``loxo.pps.spec.spec_from_dict``) gives an equal spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from loxo.pps.inputs import CronInput, CrossInput, GroupInput, Input, JoinInput, PfsInput, UnionInput
from loxo.pps.spec_values import format_duration, format_quantity, format_time

ReprocessSpec = Literal["until_success", "every_job"]
OutputMerge = Literal["error", "append"]
REPROCESS_SPECS: tuple[ReprocessSpec, ...] = ("until_success", "every_job")
OUTPUT_MERGES: tuple[OutputMerge, ...] = ("error", "append")
DEFAULT_DATUM_TRIES = 3


@dataclass(frozen=True)
class Transform:
    """What runs for each datum. ``cmd`` is not run in a shell; ``stdin`` lines are fed to it."""

    cmd: tuple[str, ...]
    stdin: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    image: str | None = None
    err_cmd: tuple[str, ...] = ()
    err_stdin: tuple[str, ...] = ()
    accept_return_code: tuple[int, ...] = ()
    working_dir: str | None = None
    datum_batching: bool = False


@dataclass(frozen=True)
class Resources:
    """``resource_requests`` or ``resource_limits``: CPUs, bytes of memory and disk, GPUs."""

    cpu: float | None = None
    memory: int | None = None
    disk: int | None = None
    gpu: int = 0
    gpu_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.cpu is not None:
            out["cpu"] = self.cpu
        if self.memory is not None:
            out["memory"] = format_quantity(self.memory)
        if self.disk is not None:
            out["disk"] = format_quantity(self.disk)
        if self.gpu or self.gpu_type is not None:
            gpu: dict[str, Any] = {} if self.gpu_type is None else {"type": self.gpu_type}
            out["gpu"] = gpu | {"number": self.gpu}
        return out


@dataclass(frozen=True)
class PipelineSpec:
    """One pipeline, as loxo runs it.

    ``parallelism`` is a worker count (>= 1); timeouts are seconds; ``egress`` is a local
    path or object-store URL; ``output_merge`` is ``"error"`` (two datums writing one path
    fail the job, Pachyderm 2.x) or ``"append"`` (1.x: same-path outputs concatenated).
    """

    name: str
    transform: Transform
    input: Input
    description: str = ""
    parallelism: int = 1
    resource_requests: Resources = Resources()
    resource_limits: Resources = Resources()
    datum_tries: int = DEFAULT_DATUM_TRIES
    datum_timeout: float | None = None
    job_timeout: float | None = None
    reprocess_spec: ReprocessSpec = "until_success"
    output_branch: str = "master"
    egress: str | None = None
    salt: str | None = None
    output_merge: OutputMerge = "error"

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-able form, Pachyderm 2.x field names; ``None`` and empty left out."""
        out: dict[str, Any] = {"pipeline": {"name": self.name}}
        if self.description:
            out["description"] = self.description
        out["transform"] = _transform_dict(self.transform)
        out["input"] = input_to_dict(self.input)
        out["parallelism_spec"] = {"constant": self.parallelism}
        for key, resources in (("resource_requests", self.resource_requests),
                               ("resource_limits", self.resource_limits)):
            if resources != Resources():
                out[key] = resources.to_dict()
        out["datum_tries"] = self.datum_tries
        if self.datum_timeout is not None:
            out["datum_timeout"] = format_duration(self.datum_timeout)
        if self.job_timeout is not None:
            out["job_timeout"] = format_duration(self.job_timeout)
        out["reprocess_spec"] = self.reprocess_spec
        out["output_branch"] = self.output_branch
        if self.egress is not None:
            out["egress"] = {"URL": self.egress}
        if self.salt is not None:
            out["salt"] = self.salt
        out["output_merge"] = self.output_merge
        return out


def _transform_dict(t: Transform) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if t.image is not None:
        out["image"] = t.image
    out["cmd"] = list(t.cmd)
    if t.stdin:
        out["stdin"] = list(t.stdin)
    if t.env:
        out["env"] = dict(t.env)
    if t.err_cmd:
        out["err_cmd"] = list(t.err_cmd)
    if t.err_stdin:
        out["err_stdin"] = list(t.err_stdin)
    if t.accept_return_code:
        out["accept_return_code"] = list(t.accept_return_code)
    if t.working_dir is not None:
        out["working_dir"] = t.working_dir
    if t.datum_batching:
        out["datum_batching"] = True
    return out


def input_to_dict(node: Input) -> dict[str, Any]:
    """One input tree node in Pachyderm 2.x form (``pfs``, never ``atom``)."""
    if isinstance(node, PfsInput):
        pfs: dict[str, Any] = {"name": node.name, "repo": node.repo, "branch": node.branch, "glob": node.glob}
        if node.commit is not None:
            pfs["commit"] = node.commit
        for flag in ("empty_files", "lazy", "outer_join"):
            if getattr(node, flag):
                pfs[flag] = True
        if node.join_on is not None:
            pfs["join_on"] = node.join_on
        if node.group_by is not None:
            pfs["group_by"] = node.group_by
        return {"pfs": pfs}
    if isinstance(node, CronInput):
        cron: dict[str, Any] = {"name": node.name, "spec": node.spec, "repo": node.repo}
        if node.start is not None:
            cron["start"] = format_time(node.start)
        if node.overwrite:
            cron["overwrite"] = True
        return {"cron": cron}
    return {_KINDS[type(node)]: [input_to_dict(child) for child in node.inputs]}


_KINDS: dict[type, str] = {CrossInput: "cross", UnionInput: "union", JoinInput: "join", GroupInput: "group"}
