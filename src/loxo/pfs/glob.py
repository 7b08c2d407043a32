"""Glob patterns over repo paths, with Pachyderm's meaning.

``/`` matches the root itself; ``*``, ``?`` and ``[...]`` match within one path
component; ``**`` matches across components (``/**`` is every file and directory at
any depth). Patterns without ``**`` match only at their own depth, so a tree walk can
stop there.
"""

from __future__ import annotations

import fnmatch
import re
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
        text = "/".join(self.parts)
        i = 0
        while i < len(text):
            if text.startswith("**/", i):  # zero or more whole directories
                out.append("(?:.*/)?")
                i += 3
            elif text.startswith("**", i):
                out.append(".*")
                i += 2
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

    def match_part(self, depth: int, name: str) -> bool:
        """Does component ``name`` at ``depth`` fit (for non-recursive patterns)?"""
        return fnmatch.fnmatchcase(name, self.parts[depth])

    def match(self, path: str) -> bool:
        """Does the normalised path ``/a/b`` match the whole pattern?"""
        rel = path.strip("/")
        if not self.parts:
            return rel == ""
        return bool(self._regex.match(rel))


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
    return Glob(pattern, parts)
