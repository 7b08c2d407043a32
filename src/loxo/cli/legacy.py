"""pachctl 1.x hyphenated commands, translated to their 2.x form before parsing.

``put-file training master iris.csv -c -o -f data/iris.csv`` becomes
``put file training@master:iris.csv -o -f data/iris.csv``: the positional pieces of
each address (repo, branch or commit, path) are joined into one ``repo@ref:path``
argument, options pass through unchanged, and options 1.x had but 2.x does not need
(``put-file -c``) are dropped. Jobs work the same way: ``inspect-job edges <id>``
becomes ``inspect job edges@<id>``, and a bare 1.x job id passes through whole.
One table, no second copy of any command (``RENAMED`` only renames ``get-logs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Legacy:
    """How one 1.x command maps to ``verb noun``.

    ``shape`` says how many positionals make each address (``(3,)``: repo, ref, path);
    ``values`` are the options that take a value; ``drop`` are accepted and ignored.
    ``whole``: given fewer positionals than ``shape`` asks for, each one is already a
    whole address (``inspect-datum JOB DATUM`` beside ``inspect-datum PIPELINE JOB DATUM``).
    """

    verb: str
    noun: str
    shape: tuple[int, ...] = ()
    values: frozenset[str] = frozenset()
    drop: frozenset[str] = frozenset()
    whole: bool = False


def _opts(*names: str) -> frozenset[str]:
    return frozenset(names)


_DESC = _opts("-d", "--description")
_MSG = _opts("-m", "--message", "--description")
_SPEC = _opts("-f", "--file")
_PUSH = _opts("-p", "--push-images")  # 1.x built and pushed images; loxo runs commands on the host
_PIPELINE = _opts("-p", "--pipeline")
_PUT = _opts("-f", "--file", "-i", "--input-file", "-p", "--parallelism", "-m", "--message")

TABLE: dict[str, Legacy] = {
    "create-repo": Legacy("create", "repo", (1,), _DESC),
    "update-repo": Legacy("update", "repo", (1,), _DESC),
    "list-repo": Legacy("list", "repo"),
    "inspect-repo": Legacy("inspect", "repo", (1,)),
    "delete-repo": Legacy("delete", "repo", (1,)),
    "create-branch": Legacy("create", "branch", (2,), _opts("--head")),
    "list-branch": Legacy("list", "branch", (1,)),
    "inspect-branch": Legacy("inspect", "branch", (2,)),
    "delete-branch": Legacy("delete", "branch", (2,)),
    "start-commit": Legacy("start", "commit", (2,), _MSG | _opts("-p", "--parent")),
    "finish-commit": Legacy("finish", "commit", (2,), _MSG),
    "inspect-commit": Legacy("inspect", "commit", (2,)),
    "list-commit": Legacy("list", "commit", (2,), _opts("-n", "--number")),
    "delete-commit": Legacy("delete", "commit", (2,)),
    "squash-commit": Legacy("squash", "commit", (2,)),
    "flush-commit": Legacy("wait", "commit", (2,), _opts("--timeout")),
    "wait-commit": Legacy("wait", "commit", (2,), _opts("--timeout")),
    "put-file": Legacy("put", "file", (3,), _PUT, _opts("-c", "--commit")),
    "get-file": Legacy("get", "file", (3,), _opts("-o", "--output")),
    "list-file": Legacy("list", "file", (3,)),
    "glob-file": Legacy("glob", "file", (3,)),
    "inspect-file": Legacy("inspect", "file", (3,)),
    "delete-file": Legacy("delete", "file", (3,)),
    "walk-file": Legacy("walk", "file", (3,)),
    "diff-file": Legacy("diff", "file", (3, 3)),
    "copy-file": Legacy("copy", "file", (3, 3), drop=_opts("-o", "--overwrite")),
    "create-pipeline": Legacy("create", "pipeline", (), _SPEC, _PUSH),
    "update-pipeline": Legacy("update", "pipeline", (), _SPEC, _PUSH),
    "list-pipeline": Legacy("list", "pipeline"),
    "inspect-pipeline": Legacy("inspect", "pipeline", (1,)),
    "delete-pipeline": Legacy("delete", "pipeline", (1,)),
    "start-pipeline": Legacy("start", "pipeline", (1,)),
    "stop-pipeline": Legacy("stop", "pipeline", (1,)),
    "run-cron": Legacy("run", "cron", (1,)),
    "list-job": Legacy("list", "job", (2,), _PIPELINE, whole=True),
    "inspect-job": Legacy("inspect", "job", (2,), whole=True),
    "stop-job": Legacy("stop", "job", (2,), whole=True),
    "flush-job": Legacy("wait", "job", (2,), _PIPELINE | _opts("--timeout"), whole=True),
    "list-datum": Legacy("list", "datum", (2,), whole=True),
    "inspect-datum": Legacy("inspect", "datum", (2, 1), whole=True),
}

RENAMED: dict[str, str] = {"get-logs": "logs"}
"""1.x commands that are one word in 2.x too, with the same arguments: only renamed."""

_GLOBAL_WITH_VALUE = frozenset({"--home", "--address", "--token"})  # flags like --no-sandbox take none


def translate(args: Sequence[str]) -> list[str]:
    """``args`` with a 1.x command (after any global options) rewritten to 2.x; else as is."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in _GLOBAL_WITH_VALUE else 1
    if i < len(args) and args[i] in RENAMED:
        return [*args[:i], RENAMED[args[i]], *args[i + 1:]]
    if i >= len(args) or args[i] not in TABLE:
        return list(args)
    spec = TABLE[args[i]]
    return [*args[:i], spec.verb, spec.noun, *_rewrite(spec, args[i + 1:])]


def _rewrite(spec: Legacy, rest: Sequence[str]) -> list[str]:
    positionals: list[str] = []
    options: list[str] = []
    i = 0
    while i < len(rest):
        token = rest[i]
        i += 1
        if token == "--":
            positionals.extend(rest[i:])
            break
        if not token.startswith("-") or token == "-":
            positionals.append(token)
        elif token not in spec.drop:
            options.append(token)
            if token in spec.values and i < len(rest):
                options.append(rest[i])
                i += 1
    short = spec.whole and len(positionals) < sum(spec.shape)
    addresses = positionals if short else _addresses(spec.shape, positionals)
    if any(a.startswith("-") for a in addresses):  # keep them positional after the options
        return [*options, "--", *addresses]
    return [*addresses, *options]


def _addresses(shape: tuple[int, ...], positionals: list[str]) -> list[str]:
    """Join each group of positionals (repo, ref, path) into ``repo@ref:path``."""
    out: list[str] = []
    pending = list(positionals)
    for size in shape:
        if not pending:
            break
        if "@" in pending[0] or size == 1:
            out.append(pending.pop(0))
            continue
        parts, pending = pending[:size], pending[size:]
        out.append(join(parts))
    return out + pending


def join(parts: Sequence[str]) -> str:
    """``[repo, ref, path]`` → ``repo@ref:path`` (each piece optional from the right)."""
    text = parts[0]
    if len(parts) > 1:
        text += f"@{parts[1]}"
    if len(parts) > 2:
        text += f":{parts[2]}"
    return text
