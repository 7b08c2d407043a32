"""Reading one JSON object of a spec: spellings, unknown fields, leaf validation.

A ``Reader`` collects every problem of one pipeline as ``field.path: message`` lines and
every warning, and never stops at the first: a caller reads every object it can reach
and decides at the end. Keys are matched under their snake_case name, their
lowerCamelCase name (protobuf JSON accepts both) and any alias the model lists; the
path in a message uses the key as the user wrote it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from loxo.pps.spec_values import shown
from loxo.pps.spec_wire import Wire

W = TypeVar("W", bound=Wire)


def camel(name: str) -> str:
    """``parallelism_spec`` -> ``parallelismSpec`` (protobuf's JSON name)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def join(path: str, key: str | int) -> str:
    """``join("input.cross", 1)`` -> ``input.cross[1]``; ``join("", "input")`` -> ``input``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


@cache
def spellings(model: type[Wire]) -> Mapping[str, str]:
    """Every accepted key of ``model``'s object -> its canonical snake_case name."""
    names = [*model.model_fields, *model.CHILDREN, *model.IGNORED, *model.UNSUPPORTED]
    table = {spelled: name for name in names for spelled in (name, camel(name))}
    table.update(model.ALIASES)
    return table


def _empty(value: object) -> bool:
    return value is None or value is False or (isinstance(value, (str, list, dict)) and not value)


@dataclass(frozen=True)
class Node(Generic[W]):
    """One object as read: ``wire`` holds its leaves (``None`` if any was invalid),
    ``raw`` every known key's value under its canonical name (``null`` values dropped)."""

    wire: W | None
    raw: Mapping[str, Any]
    spelled: Mapping[str, str]
    path: str

    def at(self, name: str) -> str:
        """The path of field ``name``, spelled as the user wrote it."""
        return join(self.path, self.spelled.get(name, name))


@dataclass
class Reader:
    """Collects the problems and warnings of one pipeline spec."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}" if path else message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def read(self, model: type[W], raw: object, path: str) -> Node[W] | None:
        """Read ``raw`` as a ``model`` object at ``path``; ``None`` if it is not an object."""
        if not isinstance(raw, Mapping):
            self.error(path, f"must be an object, got {shown(raw)}")
            return None
        table = spellings(model)
        for key in getattr(raw, "duplicates", ()):
            self.error(join(path, key), "given more than once")
        values: dict[str, Any] = {}
        spelled: dict[str, str] = {}
        for key, value in raw.items():
            text = str(key)
            where = join(path, text)
            name = table.get(text)
            if name is None:
                self._unknown(where, text, table)
            elif name in spelled:
                self.error(where, f"given twice, as {spelled[name]} and {text}; keep one")
            elif name in model.UNSUPPORTED:
                if value is not None:
                    self.error(where, model.UNSUPPORTED[name])
            elif name in model.IGNORED:
                if not _empty(value):
                    self.warn(f"{where}: accepted and ignored ({model.IGNORED[name]})")
            else:
                spelled[name] = text
                if value is not None:
                    values[name] = value
        node: Node[W] = Node(None, values, spelled, path)
        leaves = {k: val for k, val in values.items() if k in model.model_fields}
        try:
            return Node(model.model_validate(leaves), values, spelled, path)
        except ValidationError as exc:
            for problem in exc.errors():
                name = str(problem["loc"][0])
                if problem["type"] == "missing":
                    self.error(node.at(name), model.HINTS.get(name, "required"))
                else:
                    ctx = problem.get("ctx") or {}
                    self.error(node.at(name) + str(ctx.get("sub", "")), str(ctx.get("msg", problem["msg"])))
        return node

    def _unknown(self, where: str, key: str, table: Mapping[str, str]) -> None:
        close = difflib.get_close_matches(key, list(table), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        self.warn(f"unknown field {where} ignored{hint}")
