"""Datums: the units of work cut from a pipeline's inputs, with Pachyderm's semantics.

- ``pfs``: one datum per match of the input's glob at its commit (glob ``/``: one datum,
  the root). ``cron``: a pfs input over the cron repo with glob ``/*`` on ``master``,
  one datum per tick file (what Pachyderm's datum code does).
- ``cross``: the Cartesian product, first input outermost; an empty side gives none.
- ``union``: the datums of each input, one input after another.
- ``join``, ``group``: see ``loxo.pps.joins``.

Everything here is a pure function of the input tree, a ``Resolver`` (the glob matches
of a leaf input, in path order) and the resolved commits; the same arguments give the
same datums in the same order. Datums stream: a pfs input or the first input of a cross
is never held in memory as a whole (see ``iter_datums`` for what is).

Identity (DESIGN.md "Datum identity"):
- ``datum_id``: which datum this is, whatever its content (``PACH_DATUM_ID``): 64 hex
  digits of BLAKE3 over the sorted ``(input name, repo, path)`` of its inputs.
- ``datum_hash``: what decides skipping: ``blake3:<64 hex>`` over the sorted
  ``(input name, repo, path, content id)`` of its inputs and the pipeline salt. A
  matched directory's id is the root of its Merkle subtree, so it covers every file
  below it without reading any.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain, product
from sys import intern
from typing import NamedTuple

import blake3
import orjson

from loxo.errors import InvalidArgument
from loxo.pfs.glob import Glob, compile_glob, expand_template
from loxo.pfs.tree import TreeReader
from loxo.pps.inputs import (
    CronInput,
    CrossInput,
    GroupInput,
    Input,
    JoinInput,
    PfsInput,
    UnionInput,
    leaves,
)
from loxo.pps.joins import Row, group_rows, join_rows, key_table
from loxo.storage.content import PREFIX


class Match(NamedTuple):
    """One match of a glob: a file or a whole directory (``id`` is its subtree's)."""

    path: str
    id: str
    size: int
    is_dir: bool


class DatumInput(NamedTuple):
    """One input's contribution to a datum: the glob element it matched."""

    name: str
    repo: str
    commit: str
    path: str
    id: str
    size: int
    is_dir: bool
    join_on: str | None = None  # the input's join_on template expanded for this path
    group_by: str | None = None


class Datum(NamedTuple):
    """A unit of work: one or more matched elements (several of one input in a group)."""

    inputs: tuple[DatumInput, ...]


class DatumFile(NamedTuple):
    """One input file of a datum, for lineage."""

    repo: str
    commit: str
    path: str
    id: str


# The matches of a leaf input's glob at its resolved commit, in path order.
Resolver = Callable[[PfsInput], Iterable[Match]]
# Every file at or below a matched directory: ``(path, content id)``.
Walk = Callable[[DatumInput], Iterable[tuple[str, str]]]

Leaf = PfsInput | CronInput


def cron_as_pfs(cron: CronInput) -> PfsInput:
    """A cron input as the pfs input its datums come from: ``/*`` over its repo's master."""
    return PfsInput(name=cron.name, repo=cron.repo, glob="/*", branch="master")


def tree_resolver(trees: TreeReader, tree_of: Callable[[PfsInput], str | None]) -> Resolver:
    """A ``Resolver`` over stored trees; ``tree_of`` gives a leaf's root tree id (None: empty)."""

    def resolve(leaf: PfsInput) -> Iterator[Match]:
        for path, entry in trees.glob(tree_of(leaf), compile_glob(leaf.glob)):
            yield Match(path, entry.id, entry.size, entry.is_dir)

    return resolve


# -- cutting datums -----------------------------------------------------------------
def iter_datums(node: Input, resolve: Resolver, commits: Mapping[str, str]) -> Iterator[Datum]:
    """Every datum of the input tree ``node``, in a deterministic order.

    ``commits`` maps an input name to its resolved commit id; ``""`` means the input has
    no commit yet and contributes no matches (as in Pachyderm), a missing name is an
    ``InvalidArgument``. Union inputs may share a name (Pachyderm's idiom); if such
    inputs read different repos or branches, a name cannot say which commit is whose, so
    each of them must carry its resolved commit in ``PfsInput.commit`` instead. Both
    errors are raised here, before any datum is made.

    Memory: a pfs input streams (one match at a time). A cross streams its first input
    and holds the datums of the others, so put the biggest input first. A join or group
    holds one ``Row`` tuple (key, path, id, size, is_dir) per match of each of its
    inputs, sorted by key, and nothing more.
    """
    cuts = _Cuts(resolve, _commits_by_leaf(node, commits))
    return cuts.datums(node)


def _commits_by_leaf(node: Input, commits: Mapping[str, str]) -> dict[Leaf, str]:
    places: dict[str, set[tuple[str, str]]] = {}
    for leaf in leaves(node):
        branch = leaf.branch if isinstance(leaf, PfsInput) else "master"
        places.setdefault(leaf.name, set()).add((leaf.repo, branch))
    out: dict[Leaf, str] = {}
    for leaf in leaves(node):
        own = leaf.commit if isinstance(leaf, PfsInput) else None
        shared = len(places[leaf.name]) > 1
        commit = own if shared else commits.get(leaf.name, own)
        if commit is None:
            why = " (the name is shared by several repos or branches)" if shared else ""
            raise InvalidArgument(f"no resolved commit for input {leaf.name!r}{why}")
        out[leaf] = commit
    return out


class _Keys:
    """A leaf's ``join_on`` / ``group_by`` values for a matched path."""

    def __init__(self, leaf: PfsInput) -> None:
        self.join_on = leaf.join_on or None
        self.group_by = leaf.group_by or None
        self.glob: Glob | None = compile_glob(leaf.glob) if self.join_on or self.group_by else None

    def values(self, path: str) -> tuple[str | None, str | None]:
        if self.glob is None:
            return None, None
        caps = self.glob.captures(path) or ()  # no match: every group is "" (Pachyderm)
        join_on = expand_template(self.join_on, caps, path) if self.join_on else None
        group_by = expand_template(self.group_by, caps, path) if self.group_by else None
        return join_on, group_by


class _Cuts:
    def __init__(self, resolve: Resolver, commits: dict[Leaf, str]) -> None:
        self.resolve = resolve
        self.commits = commits

    def datums(self, node: Input) -> Iterator[Datum]:
        if isinstance(node, PfsInput):
            return self.pfs(node, self.commits[node])
        if isinstance(node, CronInput):
            return self.pfs(cron_as_pfs(node), self.commits[node])
        if isinstance(node, CrossInput):
            return self.cross(node)
        if isinstance(node, UnionInput):
            return chain.from_iterable(self.datums(child) for child in node.inputs)
        if isinstance(node, JoinInput):
            return self.keyed(node.inputs, join=True)
        if isinstance(node, GroupInput):
            return self.keyed(node.inputs, join=False)
        raise InvalidArgument(f"unknown input node {node!r}")

    def matches(self, leaf: PfsInput, commit: str) -> Iterable[Match]:
        return self.resolve(leaf) if commit else ()  # no commit yet: nothing to match

    def pfs(self, leaf: PfsInput, commit: str) -> Iterator[Datum]:
        name, repo = leaf.name, leaf.repo
        keys = _Keys(leaf)
        if keys.glob is None:
            for path, id_, size, is_dir in self.matches(leaf, commit):
                yield Datum((DatumInput(name, repo, commit, path, id_, size, is_dir),))
            return
        for path, id_, size, is_dir in self.matches(leaf, commit):
            join_on, group_by = keys.values(path)
            yield Datum((DatumInput(name, repo, commit, path, id_, size, is_dir, join_on, group_by),))


    def cross(self, node: CrossInput) -> Iterator[Datum]:
        if not node.inputs:
            return
        rest = [tuple(d.inputs for d in self.datums(child)) for child in node.inputs[1:]]
        if not all(rest):
            return  # an empty side: no datums, and the first input is never read
        if len(rest) == 1:
            (tails,) = rest
            for head in self.datums(node.inputs[0]):
                for tail in tails:
                    yield Datum(head.inputs + tail)
            return
        for head in self.datums(node.inputs[0]):
            for combo in product(*rest):
                yield Datum(head.inputs + tuple(chain.from_iterable(combo)))

    def keyed(self, inputs: tuple[PfsInput, ...], join: bool) -> Iterator[Datum]:
        keys = [_Keys(leaf) for leaf in inputs]
        commits = [self.commits[leaf] for leaf in inputs]
        tables = [
            key_table(self.rows(leaf, commit, k, join))
            for leaf, commit, k in zip(inputs, commits, keys, strict=True)
        ]
        members = join_rows(tables, [leaf.outer_join for leaf in inputs]) if join else group_rows(tables)
        for datum in members:
            yield Datum(tuple(self.member(inputs[i], commits[i], keys[i], row, join) for i, row in datum))

    def rows(self, leaf: PfsInput, commit: str, keys: _Keys, join: bool) -> Iterator[Row]:
        for path, id_, size, is_dir in self.matches(leaf, commit):
            join_on, group_by = keys.values(path)
            yield ((join_on if join else group_by) or "", path, id_, size, is_dir)

    @staticmethod
    def member(leaf: PfsInput, commit: str, keys: _Keys, row: Row, join: bool) -> DatumInput:
        key, path, id_, size, is_dir = row
        if keys.group_by if join else keys.join_on:  # the other template too: match again
            join_on, group_by = keys.values(path)
        elif join:
            join_on, group_by = (key if keys.join_on else None), None
        else:
            join_on, group_by = None, (key if keys.group_by else None)
        return DatumInput(leaf.name, leaf.repo, commit, path, id_, size, is_dir, join_on, group_by)


def pfs_datum(leaf: PfsInput, commit: str, match: Match) -> Datum:
    """The datum a single pfs input makes of one match (as ``iter_datums`` would)."""
    join_on, group_by = _Keys(leaf).values(match.path)
    return Datum((DatumInput(leaf.name, leaf.repo, commit, *match, join_on, group_by),))


# -- identity ---------------------------------------------------------------------
_ID_DOMAIN = b"loxo:datum-id\0"
_HASH_DOMAIN = b"loxo:datum-hash\0"


def datum_id(datum: Datum) -> str:
    """The datum's identity across content changes: 64 hex digits (``PACH_DATUM_ID``)."""
    names = sorted((i.name, i.repo, i.path) for i in datum.inputs)
    return blake3.blake3(_ID_DOMAIN + orjson.dumps(names)).hexdigest()


def datum_hash(datum: Datum, salt: str) -> str:
    """What skipping compares: ``blake3:<hex>`` of names, repos, paths, content ids, salt.

    Costs 3-6 us per datum here (2 shared CPUs; the BLAKE3 call alone is ~1.8 us).
    """
    content = sorted((i.name, i.repo, i.path, i.id) for i in datum.inputs)
    return PREFIX + blake3.blake3(_HASH_DOMAIN + orjson.dumps([salt, content])).hexdigest()


# -- what user code sees ----------------------------------------------------------
def datum_env(
    datum: Datum, job_id: str, output_commit: str, root: str = "/pfs", did: str | None = None
) -> dict[str, str]:
    """The environment variables of one datum's user code (DESIGN.md, reference §3.4).

    ``<name>`` is where the matched element appears (``/pfs/<name><path>``, ``/pfs/<name>``
    for the root), ``<name>_COMMIT`` its commit; ``PACH_DATUM_<name>_JOIN_ON`` /
    ``_GROUP_BY`` are set when not empty; ``PACH_JOB_ID`` and ``PACH_OUTPUT_COMMIT_ID``
    when given. Every ``PACH_`` variable has a ``LOXO_`` twin. When one input has several
    elements in a datum (a group), its ``<name>`` is the last one's, as in Pachyderm.
    ``did``: the datum's id, where the caller has it already.
    """
    base = root.rstrip("/")
    env: dict[str, str] = {}
    pach: dict[str, str] = {}
    # names are interned: a job holds one of these per datum to run (100,000 of them)
    for inp in datum.inputs:
        env[inp.name] = f"{base}/{inp.name}" + ("" if inp.path == "/" else inp.path)
        env[intern(f"{inp.name}_COMMIT")] = inp.commit
        if inp.join_on:
            pach[intern(f"DATUM_{inp.name}_JOIN_ON")] = inp.join_on
        if inp.group_by:
            pach[intern(f"DATUM_{inp.name}_GROUP_BY")] = inp.group_by
    pach["DATUM_ID"] = did or datum_id(datum)
    if job_id:
        pach["JOB_ID"] = job_id
    if output_commit:
        pach["OUTPUT_COMMIT_ID"] = output_commit
    for key, value in pach.items():
        env[intern("PACH_" + key)] = value
        env[intern("LOXO_" + key)] = value
    return env


def datum_files(datum: Datum, walk: Walk) -> Iterator[DatumFile]:
    """The exact input files of a datum: each matched file, and every file below each
    matched directory as ``walk`` lists it."""
    for inp in datum.inputs:
        if not inp.is_dir:
            yield DatumFile(inp.repo, inp.commit, inp.path, inp.id)
            continue
        for path, content_id in walk(inp):
            yield DatumFile(inp.repo, inp.commit, path, content_id)
