"""``list datum -f spec``: the datums a spec would make now, without creating anything."""

from __future__ import annotations

from collections.abc import Iterator

from loxo.pfs import Pfs
from loxo.pfs.lookup import commit_by_id, repo_row
from loxo.pps.controller import leaf_heads
from loxo.pps.datums import Datum, datum_id, iter_datums, tree_resolver
from loxo.pps.inputs import PfsInput
from loxo.pps.spec import PipelineSpec


def preview_datums(pfs: Pfs, spec: PipelineSpec) -> Iterator[tuple[str, Datum]]:
    """``(datum id, datum)`` for every datum of ``spec`` over the current branch heads
    (inputs without any commit yet contribute nothing)."""
    commits: dict[str, str] = {}
    trees: dict[str, str | None] = {}
    with pfs.store.db.read() as conn:
        for leaf, head in leaf_heads(conn, spec):
            repo = repo_row(conn, leaf.repo)
            row = commit_by_id(conn, repo.id, head) if head else None
            commits[leaf.name] = head or ""
            trees[leaf.name] = row.tree if row is not None else None

    def tree_of(leaf: PfsInput) -> str | None:
        return trees.get(leaf.name)

    for d in iter_datums(spec.input, tree_resolver(pfs.store.trees, tree_of), commits):
        yield datum_id(d), d
