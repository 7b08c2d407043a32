"""``list datum -f spec``: the datums a spec would make now, without creating anything."""

from __future__ import annotations

from collections.abc import Iterator

from loxo.pfs import Pfs
from loxo.pfs.lookup import branch_row, commit_by_id, repo_row
from loxo.pps.datums import Datum, cron_as_pfs, datum_id, iter_datums, tree_resolver
from loxo.pps.inputs import CronInput, PfsInput, leaves
from loxo.pps.spec import PipelineSpec


def preview_datums(pfs: Pfs, spec: PipelineSpec) -> Iterator[tuple[str, Datum]]:
    """``(datum id, datum)`` for every datum of ``spec`` over the current branch heads
    (inputs without any commit yet contribute nothing)."""
    commits: dict[str, str] = {}
    trees: dict[str, str | None] = {}
    with pfs.store.db.read() as conn:
        for leaf in leaves(spec.input):
            pfs_leaf = cron_as_pfs(leaf) if isinstance(leaf, CronInput) else leaf
            repo = repo_row(conn, pfs_leaf.repo)
            branch = branch_row(conn, repo.id, pfs_leaf.branch)
            head = pfs_leaf.commit or (branch.head if branch is not None else None)
            row = commit_by_id(conn, repo.id, head) if head else None
            commits[pfs_leaf.name] = head or ""
            trees[pfs_leaf.name] = row.tree if row is not None else None

    def tree_of(leaf: PfsInput) -> str | None:
        return trees.get(leaf.name)

    for d in iter_datums(spec.input, tree_resolver(pfs.store.trees, tree_of), commits):
        yield datum_id(d), d
