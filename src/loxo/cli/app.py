"""The command tree: one Typer group per verb (``create``, ``list`` ...), nouns inside.

Noun modules (``repo``, ``branch``, ``commit``, ``file``) add their commands to these
groups, so ``loxo create repo`` and ``loxo create branch`` live side by side as in
pachctl. Every command opens the store through ``client(ctx)``, which ``main`` set up
from ``--home`` / ``LOXO_HOME``.
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

import loxo


@dataclass(frozen=True)
class State:
    """What the global options chose, kept on the root context."""

    home: str


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False)


create = _group("Create a repo or a branch.")
list_ = _group("List repos, branches, commits or files.")
inspect = _group("Show one repo, branch, commit or file in detail.")
update = _group("Change a repo's description.")
delete = _group("Delete a repo, branch, commit or file.")
start = _group("Start (open) a commit.")
finish = _group("Finish an open commit.")
wait = _group("Wait until a commit is finished.")
squash = _group("Fold a commit into its children.")
put = _group("Put files into a repo.")
get = _group("Get files out of a repo.")
glob = _group("Show what a glob pattern matches.")
diff = _group("Show how two file trees differ.")
copy = _group("Copy files inside loxo (no data is copied).")
walk = _group("List every file and directory below a path.")

VERBS: dict[str, typer.Typer] = {
    "create": create,
    "list": list_,
    "inspect": inspect,
    "update": update,
    "delete": delete,
    "start": start,
    "finish": finish,
    "wait": wait,
    "squash": squash,
    "put": put,
    "get": get,
    "glob": glob,
    "diff": diff,
    "copy": copy,
    "walk": walk,
}


def client(ctx: typer.Context) -> loxo.Client:
    """The store chosen by the global options, closed when the command ends."""
    state = ctx.find_root().obj
    if not isinstance(state, State):  # a command invoked without the root group
        state = State(".loxo")
    return ctx.with_resource(loxo.Client(state.home))
