"""Who may do what, as data: roles, subjects, role bindings, and the rule that ranks roles.

Roles are Pachyderm's. On a repo, ``repoReader < repoWriter < repoOwner``: each grants
what the one before it does, and more. ``clusterAdmin`` is a cluster role: it passes
every check. A subject is ``kind:name``: ``user:alice``, ``robot:ci``, or
``pipeline:edges`` (a pipeline's own identity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from loxo.errors import InvalidArgument


class Role(StrEnum):
    READER = "repoReader"
    WRITER = "repoWriter"
    OWNER = "repoOwner"
    ADMIN = "clusterAdmin"


REPO_ROLES = (Role.READER, Role.WRITER, Role.OWNER)
_RANK = {Role.READER: 1, Role.WRITER: 2, Role.OWNER: 3, Role.ADMIN: 4}
_ALIASES = {"reader": Role.READER, "writer": Role.WRITER, "owner": Role.OWNER,
            "admin": Role.ADMIN, **{r.value.lower(): r for r in Role}}
SUBJECT_KINDS = ("user", "robot", "pipeline")
_SUBJECT_NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,100}$")
ROOT = "user:root"


@dataclass(frozen=True)
class RoleBinding:
    """``subject`` holds ``role`` (on a repo, or on the cluster)."""

    subject: str
    role: Role


@dataclass(frozen=True)
class Whoami:
    """The caller as the server sees it. With auth inactive, ``subject`` is None and
    every request is allowed."""

    active: bool
    subject: str | None = None
    cluster_admin: bool = False


def satisfies(held: Role | None, needed: Role) -> bool:
    """Whether holding ``held`` grants ``needed`` (a higher role grants the lower ones)."""
    return held is not None and _RANK[held] >= _RANK[needed]


def parse_role(text: str) -> Role | None:
    """``repoWriter`` (or ``writer``, any case) as a ``Role``; ``none`` as None."""
    key = text.strip().lower()
    if key == "none":
        return None
    if key not in _ALIASES:
        choices = ", ".join([*(r.value for r in Role), "none"])
        raise InvalidArgument(f"unknown role {text!r}: use one of {choices}")
    return _ALIASES[key]


def parse_subject(text: str) -> str:
    """``kind:name`` checked; a bare name means a user (``alice`` is ``user:alice``)."""
    kind, sep, name = text.strip().partition(":")
    if not sep:
        kind, name = "user", kind
    if kind not in SUBJECT_KINDS or not _SUBJECT_NAME.match(name):
        raise InvalidArgument(
            f"subject {text!r} is invalid: write user:NAME, robot:NAME or pipeline:NAME "
            "(letters, digits and _ . @ + -)")
    return f"{kind}:{name}"
