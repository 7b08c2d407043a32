"""The normalised input tree of a pipeline: what datums are cut from.

A spec's ``input`` (Pachyderm 1.x or 2.x spelling, snake_case or camelCase) is parsed by
``loxo.pps.spec`` into exactly one of these per node. Plain frozen data, no parsing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PfsInput:
    """One repo, cut into datums by ``glob``. ``name`` defaults to the repo name."""

    name: str
    repo: str
    glob: str
    branch: str = "master"
    commit: str | None = None
    empty_files: bool = False
    lazy: bool = False
    join_on: str | None = None
    outer_join: bool = False
    group_by: str | None = None


@dataclass(frozen=True)
class CronInput:
    """A tick source: each tick commits a file named by its timestamp to ``repo``."""

    name: str
    spec: str
    repo: str
    start: datetime | None = None
    overwrite: bool = False


@dataclass(frozen=True)
class CrossInput:
    inputs: tuple[Input, ...]


@dataclass(frozen=True)
class UnionInput:
    inputs: tuple[Input, ...]


@dataclass(frozen=True)
class JoinInput:
    inputs: tuple[PfsInput, ...]


@dataclass(frozen=True)
class GroupInput:
    inputs: tuple[PfsInput, ...]


Input = PfsInput | CronInput | CrossInput | UnionInput | JoinInput | GroupInput


def leaves(node: Input) -> list[PfsInput | CronInput]:
    """Every repo-backed input below ``node``, left to right."""
    if isinstance(node, (PfsInput, CronInput)):
        return [node]
    out: list[PfsInput | CronInput] = []
    for child in node.inputs:
        out.extend(leaves(child))
    return out
