"""Pipeline specs: JSON or YAML, Pachyderm 1.x or 2.x, one or several pipelines per file.

::

    load_specs(text, source)     -> [LoadedSpec(spec, warnings), ...]   or SpecError
    load_spec_file(path)         -> the same, for a file
    spec_from_dict(data)         -> PipelineSpec (reads ``PipelineSpec.to_dict()`` back)

A text is JSON if its first non-space character is ``{`` or ``[`` (Pachyderm's rule):
one object, several objects one after another, or an array of them. Anything else is
YAML, one pipeline per document (``---``), read with YAML 1.2 scalars so that ``yes``,
``on`` and ``2024-01-01`` stay strings. Keys may be snake_case or lowerCamelCase;
``atom`` is ``pfs``; numbers may be strings (``"constant": "1"``).

Every problem of every pipeline in the text is collected into one ``SpecError`` whose
lines read ``field.path: what is wrong and what is allowed``. Unknown fields and
Pachyderm fields loxo ignores are warnings, returned with each spec.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from loxo.errors import SpecError
from loxo.pps.spec_normalize import normalize
from loxo.pps.spec_reader import Reader
from loxo.pps.spec_types import OutputMerge, PipelineSpec, ReprocessSpec, Resources, Transform, input_to_dict
from loxo.pps.spec_values import format_duration, format_quantity, parse_duration, parse_quantity

__all__ = [
    "LoadedSpec",
    "OutputMerge",
    "PipelineSpec",
    "ReprocessSpec",
    "Resources",
    "SpecError",
    "Transform",
    "format_duration",
    "format_quantity",
    "input_to_dict",
    "load_spec_file",
    "load_specs",
    "parse_duration",
    "parse_quantity",
    "spec_from_dict",
]


@dataclass(frozen=True)
class LoadedSpec:
    """One pipeline read from a text, with the warnings about it (unknown or ignored fields)."""

    spec: PipelineSpec
    warnings: list[str]


def load_specs(text: str, source: str = "<spec>") -> list[LoadedSpec]:
    """Every pipeline in ``text``, in order. ``source`` names the text in messages.

    Raises ``SpecError`` listing every problem of every pipeline (and a pipeline name
    defined twice), or when the text is not JSON/YAML or holds no pipeline.
    """
    documents = _documents(text, source)
    if not documents:
        raise SpecError(f"{source}: no pipeline spec found")
    several = len(documents) > 1
    loaded: list[LoadedSpec] = []
    failures: list[tuple[str, list[str]]] = []
    defined: dict[str, int] = {}
    for number, document in enumerate(documents, 1):
        reader = Reader()
        spec = normalize(document, reader)
        if spec is not None and spec.name in defined:
            first = defined[spec.name]
            reader.error("pipeline.name", f"{json.dumps(spec.name)} is already defined by document {first}")
        elif spec is not None:
            defined[spec.name] = number
        if spec is None or reader.errors:
            failures.append((_label(document, number, several), reader.errors))
        else:
            loaded.append(LoadedSpec(spec, reader.warnings))
    if failures:
        raise _spec_error(source, failures, several)
    return loaded


def load_spec_file(path: str | os.PathLike[str]) -> list[LoadedSpec]:
    """Every pipeline in the file at ``path``; ``SpecError`` naming the path if unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise SpecError(f"cannot read spec file {os.fspath(path)}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SpecError(f"cannot read spec file {os.fspath(path)}: not UTF-8 text") from None
    return load_specs(text, os.fspath(path))


def spec_from_dict(data: Mapping[str, Any], source: str = "<spec>") -> PipelineSpec:
    """One pipeline from an already parsed object, e.g. a stored ``PipelineSpec.to_dict()``.

    Warnings are dropped; problems raise ``SpecError`` as ``load_specs`` does.
    """
    reader = Reader()
    spec = normalize(data, reader)
    if spec is None or reader.errors:
        raise _spec_error(source, [(_label(data, 1, False), reader.errors)], False)
    return spec


def _label(document: object, number: int, several: bool) -> str:
    name = None
    if isinstance(document, Mapping) and isinstance(document.get("pipeline"), Mapping):
        name = document["pipeline"].get("name")
    where = f"document {number}" if several else ""
    if isinstance(name, str) and name:
        return f"pipeline {json.dumps(name)}" + (f" ({where})" if where else "")
    return where or "pipeline"


def _spec_error(source: str, failures: Sequence[tuple[str, list[str]]], several: bool) -> SpecError:
    blocks: list[str] = []
    problems: list[str] = []
    for label, errors in failures:
        count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
        blocks.append(f"invalid spec in {source}, {label}: {count}")
        blocks.extend(f"  - {line}" for line in errors)
        problems.extend(f"{label}: {line}" if several else line for line in errors)
    return SpecError("\n".join(blocks), tuple(problems))


# Texts to documents ------------------------------------------------------------------


class _Object(dict[str, Any]):
    """A parsed JSON/YAML object that remembers keys it was given more than once."""

    duplicates: tuple[str, ...] = ()


def _object(pairs: list[tuple[Any, Any]]) -> _Object:
    obj = _Object()
    repeated: list[str] = []
    for key, value in pairs:
        if key in obj:
            repeated.append(str(key))
        obj[key] = value
    obj.duplicates = tuple(repeated)
    return obj


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _documents(text: str, source: str) -> list[object]:
    """The pipeline objects of ``text``: a top-level array is several pipelines."""
    start = text.lstrip()[:1]
    values = _json_values(text, source) if start in ("{", "[") else _yaml_values(text, source)
    documents: list[object] = []
    for value in values:
        documents.extend(value if isinstance(value, list) else [value])
    return documents


def _json_values(text: str, source: str) -> list[object]:
    decoder = json.JSONDecoder(object_pairs_hook=_object)
    values: list[object] = []
    pos = 0
    while True:
        match = _JSON_SPACE.match(text, pos)
        pos = match.end() if match else pos
        if pos >= len(text):
            return values
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
        values.append(value)


def _yaml_values(text: str, source: str) -> list[object]:
    try:
        return [value for value in yaml.load_all(text, Loader=_SpecLoader) if value is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise SpecError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML: {exc}") from None


class _SpecLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2 scalars and duplicate keys remembered.

    Only ``true``/``false`` are booleans (``yes``/``on``/``no`` stay strings), integers
    are decimal (``0755`` and ``1:30`` stay strings) and there are no implicit timestamps,
    so a string field gets what the user typed.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        repeated: list[str] = []
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    repeated.append(key_node.value)
                seen.add(key_node.value)
        mapping = _Object({str(k): v for k, v in super().construct_mapping(node, deep=deep).items()})
        mapping.duplicates = tuple(repeated)
        return mapping

    def construct_spec_map(self, node: yaml.MappingNode) -> Iterator[_Object]:
        data = _Object()
        yield data
        built = self.construct_mapping(node)
        data.update(built)
        data.duplicates = getattr(built, "duplicates", ())


_YAML_1_1_ONLY = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                  "tag:yaml.org,2002:timestamp"}
_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML_1_1_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_SpecLoader.add_constructor("tag:yaml.org,2002:map", _SpecLoader.construct_spec_map)
