"""A job as its runner holds it while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from loxo.pps.spec import PipelineSpec


@dataclass
class JobRun:
    pk: int
    id: str
    pipeline: str
    pipeline_id: int
    spec: PipelineSpec
    salt: str
    inputs: list[dict[str, str]]
    parent_pk: int | None  # the previous successful job of the pipeline
    trees: dict[str, str | None] = field(default_factory=dict)  # commit id -> tree
