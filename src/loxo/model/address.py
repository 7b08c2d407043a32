"""The one parser of addresses and paths.

Grammar (Pachyderm's)::

    repo[@ref][ancestry][:path]
    ref       = branch | commit-id | branch=commit-id
    ancestry  = ("^" [N] | "~" N)* | "." N      (parents back, or n-th from the oldest)

Paths inside a repo are normalised to ``/a/b`` form; ``..``, ``.``, NUL and control
characters are refused so that no path can escape a directory it is written into.
"""

from __future__ import annotations

import re

from loxo.errors import InvalidAddress, InvalidName, InvalidPath
from loxo.model.refs import Branch, Commit, File, Repo

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_MAX_NAME = 63
_REF = re.compile(r"^(?P<ref>[A-Za-z0-9_-]+(?:=[A-Za-z0-9_-]+)?)(?P<tail>(?:[\^~][0-9]*|\.[0-9]+)*)$")
_STEP = re.compile(r"([\^~])([0-9]*)|\.([0-9]+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_name(kind: str, name: str) -> str:
    if not name:
        raise InvalidName(f"{kind} name is empty; use letters, digits, '-' and '_'")
    if len(name) > _MAX_NAME:
        raise InvalidName(f"{kind} name {name!r} is longer than {_MAX_NAME} characters")
    if not _NAME.match(name):
        raise InvalidName(
            f"{kind} name {name!r} is invalid: use only letters, digits, '-' and '_'"
        )
    return name


def check_repo_name(name: str) -> str:
    """Return ``name`` if it is a valid repo name, else raise ``InvalidName``."""
    return _check_name("repo", name)


def check_branch_name(name: str) -> str:
    """Return ``name`` if it is a valid branch name, else raise ``InvalidName``."""
    return _check_name("branch", name)


def normalize_path(path: str) -> str:
    """Canonical form of a path inside a repo: ``/`` or ``/a/b`` (no trailing slash)."""
    if _CONTROL.search(path):
        raise InvalidPath(f"path {path!r} contains NUL or control characters")
    parts = [p for p in path.split("/") if p]
    for part in parts:
        if part in (".", ".."):
            raise InvalidPath(f"path {path!r} contains {part!r}; use plain names")
    return "/" + "/".join(parts)


def split_path(path: str) -> list[str]:
    """Components of a normalised path (``/`` has none)."""
    return [p for p in normalize_path(path).split("/") if p]


def parts_of(path: str) -> tuple[str, ...]:
    """Components of a path that is already normalised (one read from a tree or made by
    ``normalize_path``): no checks, for loops over many thousands of paths."""
    return tuple(path.split("/")[1:]) if path != "/" else ()


def join_path(*parts: str) -> str:
    """Join path pieces and normalise the result."""
    return normalize_path("/".join(parts))


def parse_repo(text: str) -> Repo:
    return Repo(check_repo_name(text))


def _split_repo(text: str) -> tuple[str, str | None]:
    repo, sep, rest = text.partition("@")
    check_repo_name(repo)
    return repo, (rest if sep else None)


def parse_branch(text: str) -> Branch:
    """``repo@branch`` (branch defaults to ``master``)."""
    repo, rest = _split_repo(text)
    return Branch(repo, check_branch_name(rest) if rest is not None else "master")


def _parse_ref(repo: str, text: str, whole: str) -> Commit:
    m = _REF.match(text)
    if not m:
        raise InvalidAddress(
            f"cannot parse commit {whole!r}: expected repo@branch, repo@<commit id>, "
            "repo@branch^N or repo@branch.N"
        )
    ref = m.group("ref")
    if "=" in ref:  # branch=commit-id: the id is what identifies the commit
        ref = ref.split("=", 1)[1]
    ancestors = 0
    nth: int | None = None
    for step in _STEP.finditer(m.group("tail")):
        op, count, dot = step.groups()
        if dot is not None:
            if ancestors or nth is not None:
                raise InvalidAddress(f"cannot combine '.N' with other ancestry in {whole!r}")
            nth = int(dot)
            if nth < 1:
                raise InvalidAddress(f"'.N' counts from 1 in {whole!r}")
        elif op == "^":
            ancestors += int(count) if count else 1
        else:
            if not count:
                raise InvalidAddress(f"'~' needs a number in {whole!r}")
            ancestors += int(count)
    if nth is not None and ancestors:
        raise InvalidAddress(f"cannot combine '.N' with other ancestry in {whole!r}")
    return Commit(repo, ref, ancestors, nth)


def parse_commit(text: str) -> Commit:
    """``repo[@ref[^N|.N]]``; the ref defaults to ``master``. No path allowed."""
    if ":" in text:
        raise InvalidAddress(f"{text!r} names a file; expected a commit like repo@branch")
    repo, rest = _split_repo(text)
    if rest is None:
        return Commit(repo)
    return _parse_ref(repo, rest, text)


def parse_file(text: str) -> File:
    """``repo[@ref][:path]``; the path defaults to ``/``."""
    head, sep, path = text.partition(":")
    commit = parse_commit(head)
    return File(commit, normalize_path(path) if sep else "/")


def is_global_id(text: str) -> bool:
    """Is ``text`` a bare global commit id (32 hex digits, no repo)?"""
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def format_commit(commit: Commit) -> str:
    """Inverse of ``parse_commit``."""
    text = f"{commit.repo}@{commit.ref}"
    if commit.nth is not None:
        return f"{text}.{commit.nth}"
    if commit.ancestors:
        return f"{text}^{commit.ancestors}"
    return text
