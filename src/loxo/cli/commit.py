"""``start / finish / inspect / list / wait / delete / squash commit``.

A bare 32-hex argument with no ``@`` is a global id (Pachyderm's commit set): it
names every commit that shares that id, across repos.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated

import typer

from loxo.cli import app
from loxo.cli.output import NoWait, Raw, ago, human_size, print_fields, print_line, print_raw, print_table
from loxo.model.address import is_global_id, parse_branch
from loxo.model.refs import CommitInfo, CommitSetInfo

Ref = Annotated[
    str, typer.Argument(metavar="REPO@REF", help="A commit: repo@branch, repo@id, repo@branch^N ...")
]
RefOrId = Annotated[
    str, typer.Argument(metavar="REPO@REF|ID", help="A commit (repo@branch, repo@id) or a global id.")
]
Message = Annotated[str | None, typer.Option("-m", "--message", "--description", help="Description.")]

@app.start.command("commit")
def start_commit(
    ctx: typer.Context,
    branch: Annotated[str, typer.Argument(metavar="REPO@BRANCH", help="The branch to commit to.")],
    parent: Annotated[
        str | None, typer.Option("-p", "--parent", help="Parent commit (default: the branch head).")
    ] = None,
    message: Message = None,
) -> None:
    """Open a commit on a branch and print its id."""
    target = parse_branch(branch)
    if parent is not None and "@" not in parent:
        parent = f"{target.repo}@{parent}"
    info = app.client(ctx).start_commit(target, parent, message or "")
    print_line(info.id)


@app.finish.command("commit")
def finish_commit(ctx: typer.Context, ref: Ref, message: Message = None, no_wait: NoWait = False) -> None:
    """Finish an open commit (by id, or the open commit of a branch) and run the jobs it triggers."""
    app.client(ctx, wait=not no_wait).finish_commit(ref, message)


@app.inspect.command("commit")
def inspect_commit(ctx: typer.Context, ref: RefOrId, raw: Raw = False) -> None:
    """Show one commit, or with a global id every commit of that set."""
    client = app.client(ctx)
    if is_global_id(ref):
        commit_set = client.inspect_commit_set(ref)
        if raw:
            print_raw(commit_set)
            return
        print_fields(_set_fields(commit_set))
        _print_commits(commit_set.commits)
        return
    info = client.inspect_commit(ref)
    if raw:
        print_raw(info)
        return
    provenance = client.provenance(f"{info.repo}@{info.id}")
    print_fields(commit_fields(info, provenance))


def commit_fields(
    info: CommitInfo, provenance: Sequence[tuple[str, str]] | None = None
) -> list[tuple[str, str]]:
    """The ``inspect commit`` block, as pachctl 1.x printed it plus 2.x's origin.

    ``Provenance`` is every commit this one came from, transitively, as 1.x listed it
    (``repo/id`` tokens, spec repos included); without it, the direct provenance.
    """
    if provenance is None:
        tokens = [p.replace("@", "/", 1) for p in info.provenance]
    else:
        tokens = [f"{repo}/{commit_id}" for repo, commit_id in provenance]
    return [
        ("Commit", f"{info.repo}@{info.id}"),
        ("Original Branch", info.branch or "-"),
        ("Parent", info.parent or "-"),
        ("Started", ago(info.started)),
        ("Finished", ago(info.finished)),
        ("Size", human_size(info.size_bytes)),
        ("Origin", info.origin.value.upper()),
        ("Description", info.description),
        ("Provenance", " ".join(tokens)),
    ]


def _set_fields(commit_set: CommitSetInfo) -> list[tuple[str, str]]:
    return [
        ("Commit Set", commit_set.id),
        ("Subcommits", f"{commit_set.finished}/{len(commit_set.commits)} finished"),
        ("Created", ago(commit_set.created)),
        ("Modified", ago(commit_set.modified)),
    ]


@app.list_.command("commit")
def list_commit(
    ctx: typer.Context,
    ref: Annotated[
        str | None,
        typer.Argument(metavar="REPO[@BRANCH]|ID", help="A repo, a branch, or a global id."),
    ] = None,
    number: Annotated[int, typer.Option("-n", "--number", help="At most this many (0: all).")] = 0,
    raw: Raw = False,
) -> None:
    """List commit sets; a repo's or a branch's commits; or the commits of a global id."""
    client = app.client(ctx)
    if ref is None:
        sets = client.list_commit_set(limit=number or 50)
        if raw:
            print_raw(sets)
            return
        print_table(
            ["ID", "SUBCOMMITS", "PROGRESS", "CREATED", "MODIFIED"],
            [[s.id, str(len(s.commits)), f"{s.finished}/{len(s.commits)}", ago(s.created),
              ago(s.modified)] for s in sets],
        )
        return
    if is_global_id(ref):
        commits: Sequence[CommitInfo] = client.inspect_commit_set(ref).commits
    else:
        commits = client.list_commit(ref, limit=number)
    if raw:
        print_raw(list(commits))
        return
    _print_commits(commits)


def _print_commits(commits: Sequence[CommitInfo]) -> None:
    print_table(
        ["REPO", "BRANCH", "COMMIT", "FINISHED", "SIZE", "ORIGIN", "DESCRIPTION"],
        [[c.repo, c.branch or "-", c.id, ago(c.finished), human_size(c.size_bytes),
          c.origin.value.upper(), c.description] for c in commits],
    )


@app.wait.command("commit")
def wait_commit(
    ctx: typer.Context,
    ref: RefOrId,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Give up after this many seconds.")
    ] = None,
    raw: Raw = False,
) -> None:
    """Block until the commit (or every commit of a global id) is finished."""
    client = app.client(ctx)
    if is_global_id(ref):
        deadline = None if timeout is None else time.monotonic() + timeout
        done = []
        for c in client.inspect_commit_set(ref).commits:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done.append(client.wait_commit(f"{c.repo}@{c.id}", left))
        if raw:
            print_raw(done)
        return
    info = client.wait_commit(ref, timeout)
    if raw:
        print_raw(info)


@app.delete.command("commit")
def delete_commit(ctx: typer.Context, ref: RefOrId) -> None:
    """Delete a branch head (the branch moves back), or every commit of a global id."""
    app.client(ctx).delete_commit(ref)


@app.squash.command("commit")
def squash_commit(ctx: typer.Context, ref: RefOrId) -> None:
    """Fold an older commit (or a global id's commits) into its children; no data is lost."""
    app.client(ctx).squash_commit(ref)
