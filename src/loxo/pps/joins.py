"""Join and group: matches of several inputs brought together by a key.

Each input's matches become a *key table*: ``Row`` tuples ``(key, path, id, size,
is_dir)`` sorted by key, rows of one key keeping their path order. The tables are then
walked together in key order, like a merge join, so the output order depends only on
the keys and paths. These functions know nothing of specs or datums; ``datums`` turns
their rows back into datum inputs.

Pachyderm's rules (2.x ``datum`` merge tasks):
- join: for a key that every input has, one datum per combination of one row from each
  input (the cross product of the key's rows). For a key that some input lacks, the
  rows of the inputs that have it *and* are ``outer_join`` are crossed on their own; if
  none of them is outer, the key gives nothing. With two inputs that is "an outer
  input's unmatched match is a datum alone".
- group: for every key, one datum holding every row of every input with that key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import product
from operator import itemgetter

# (key, path, id, size, is_dir): all that a join or group keeps of one match.
Row = tuple[str, str, str, int, bool]
# One row of a combined datum: (index of the input it came from, row).
Member = tuple[int, Row]

_KEY = itemgetter(0)


def key_table(rows: Iterable[Row]) -> list[Row]:
    """The rows sorted by key; rows with equal keys stay in the order given (path order)."""
    table = list(rows)
    table.sort(key=_KEY)
    return table


def merge_keys(tables: Sequence[Sequence[Row]]) -> Iterator[tuple[str, list[Sequence[Row]]]]:
    """Every key found in any table, in order, with each table's rows for it (maybe none)."""
    pos = [0] * len(tables)
    while True:
        current = [t[p][0] for t, p in zip(tables, pos, strict=True) if p < len(t)]
        if not current:
            return
        key = min(current)
        runs: list[Sequence[Row]] = []
        for i, table in enumerate(tables):
            start = end = pos[i]
            while end < len(table) and table[end][0] == key:
                end += 1
            runs.append(table[start:end])
            pos[i] = end
        yield key, runs


def join_rows(tables: Sequence[Sequence[Row]], outer: Sequence[bool]) -> Iterator[tuple[Member, ...]]:
    """The members of each join datum, in key order, inputs in the order given."""
    for _key, runs in merge_keys(tables):
        if all(runs):
            chosen = list(range(len(runs)))
        else:
            chosen = [i for i, run in enumerate(runs) if run and outer[i]]
            if not chosen:
                continue
        tagged = [[(i, row) for row in runs[i]] for i in chosen]
        yield from product(*tagged)


def group_rows(tables: Sequence[Sequence[Row]]) -> Iterator[tuple[Member, ...]]:
    """The members of each group datum: every row of every input sharing one key."""
    for _key, runs in merge_keys(tables):
        yield tuple((i, row) for i, run in enumerate(runs) for row in run)
