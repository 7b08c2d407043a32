"""Glob patterns over repo paths, with Pachyderm's meaning.

``/`` matches the root itself; ``*``, ``?`` and ``[...]`` match within one path
component; ``**`` matches across components (``/**`` is every file and directory at
any depth). Patterns without ``**`` match only at their own depth, so a tree walk can
stop there.

Parentheses are capture groups, as in Pachyderm's globs (its ``ohmyglob`` library) for
``join_on`` / ``group_by``: ``(a|b)`` matches and captures one of ``|``-separated
subpatterns, and ``@( *( +( ?( !(`` capture one, any number, one or more, zero or one
of them, or anything but them. A group cannot span ``/``. ``Glob.captures`` gives the
groups' texts; ``expand_template`` turns them into a key such as ``$1`` or ``$1-$2``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from loxo.errors import InvalidArgument
from loxo.model.address import normalize_path


@dataclass(frozen=True)
class Glob:
    pattern: str
    parts: tuple[str, ...]

    @property
    def recursive(self) -> bool:
        return any("**" in p for p in self.parts)

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        out: list[str] = []
        groups: list[str] = []  # quantifiers of the open capture groups
        text = "/".join(self.parts)
        i = 0
        while i < len(text):
            if text.startswith("**/", i):  # zero or more whole directories
                out.append("(?:.*/)?")
                i += 3
            elif text.startswith("**", i):
                out.append(".*")
                i += 2
            elif text[i] == "(" or (text[i] in _GROUP_OPEN and text.startswith("(", i + 1)):
                quantifier = "@" if text[i] == "(" else text[i]
                groups.append(quantifier)
                out.append(_GROUP_OPEN[quantifier])
                i += 1 if text[i] == "(" else 2
            elif text[i] == "|" and groups:
                out.append("|")
                i += 1
            elif text[i] == ")" and groups:
                close = _GROUP_CLOSE[groups.pop()]
                # ``!(x)`` ending a component means "not exactly x", else "not starting with x"
                ends = i + 1 == len(text) or text[i + 1] == "/"
                out.append(close.replace("$", r"(?:/|\Z)" if ends else ""))
                i += 1
            elif text[i] == "*":
                out.append("[^/]*")
                i += 1
            elif text[i] == "?":
                out.append("[^/]")
                i += 1
            elif text[i] == "[":
                end = text.find("]", i + 1)
                if end < 0:
                    out.append(re.escape("["))
                    i += 1
                    continue
                body = text[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end + 1
            else:
                out.append(re.escape(text[i]))
                i += 1
        return re.compile("".join(out) + r"\Z", re.DOTALL)

    @cached_property
    def _part_regexes(self) -> tuple[re.Pattern[str], ...]:
        return tuple(Glob(self.pattern, (part,))._regex for part in self.parts)

    def match_part(self, depth: int, name: str) -> bool:
        """Does component ``name`` at ``depth`` fit (for non-recursive patterns)?"""
        if "(" in self.parts[depth]:
            return self._part_regexes[depth].match(name) is not None
        return fnmatch.fnmatchcase(name, self.parts[depth])

    def match(self, path: str) -> bool:
        """Does the normalised path ``/a/b`` match the whole pattern?"""
        rel = path.strip("/")
        if not self.parts:
            return rel == ""
        return bool(self._regex.match(rel))

    def captures(self, path: str) -> tuple[str, ...] | None:
        """The texts of the pattern's ``( )`` groups in ``path`` (``""`` for a group that
        took no part), or None if ``path`` does not match. Groups count from the left by
        their opening parenthesis, as in regular expressions."""
        rel = path.strip("/")
        if not self.parts:
            return () if rel == "" else None
        found = self._regex.match(rel)
        return None if found is None else tuple(g or "" for g in found.groups())


# Capture groups, by quantifier: the regex that opens and closes each. In ``!`` the ``$``
# is replaced when the group closes (see ``Glob._regex``).
_GROUP_OPEN = {"@": "(", "*": "((?:", "+": "((?:", "?": "((?:", "!": "((?:(?!(?:"}
_GROUP_CLOSE = {"@": ")", "*": ")*)", "+": ")+)", "?": ")?)", "!": ")$)[^/]*))"}
_TEMPLATE = re.compile(r"\$(?:\$|\{([0-9]+)\}|([0-9]+))")


def expand_template(template: str, captures: Sequence[str], whole: str = "") -> str:
    """A ``join_on`` / ``group_by`` value: ``template`` with ``$n`` or ``${n}`` replaced by
    the n-th capture (``$0`` by ``whole``, the matched path).

    Pachyderm's rules: ``$$`` is a literal ``$``; the digits after ``$`` are all taken
    (``$1$2`` is two groups, ``$12`` is group twelve, ``${1}2`` is group one then ``2``);
    a group that does not exist gives ``""``; any other ``$`` is literal text.
    """
    if "$" not in template:
        return template

    def one(found: re.Match[str]) -> str:
        digits = found.group(1) or found.group(2)
        if digits is None:
            return "$"
        if len(digits) > 1 and digits[0] == "0":
            return ""
        n = int(digits)
        if n == 0:
            return whole
        return captures[n - 1] if n <= len(captures) else ""

    return _TEMPLATE.sub(one, template)


def compile_glob(pattern: str) -> Glob:
    """Parse a glob pattern; ``InvalidArgument`` if it is empty or malformed."""
    if not pattern:
        raise InvalidArgument("glob pattern is empty; use '/' for the whole repo")
    if "\x00" in pattern:
        raise InvalidArgument("glob pattern contains NUL")
    text = normalize_path(pattern) if "**" not in pattern else "/" + pattern.strip("/")
    parts = tuple(p for p in text.split("/") if p)
    if any(p in (".", "..") for p in parts):
        raise InvalidArgument(f"glob pattern {pattern!r} contains '.' or '..'")
    glob = Glob(pattern, parts)
    if "(" in pattern:
        try:
            glob._part_regexes  # noqa: B018 - compiles every component's capture groups
        except re.error:
            raise InvalidArgument(
                f"glob pattern {pattern!r} has an unclosed '(' (a group cannot span '/')"
            ) from None
    return glob
