"""Imports go one way (DESIGN.md "Layers"), and only the top reads the environment.

Ranks, lowest first; a module may import its own rank or lower, never higher::

    0 errors, model    1 storage    2 meta    3 pfs    4 worker, executors
    5 pps    6 client (and the package root, which re-exports the SDK)
    7 server    8 cli, console
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import loxo

SRC = Path(loxo.__file__).parent

RANKS: dict[str, int] = {
    "errors": 0,
    "model": 0,
    "storage": 1,
    "meta": 2,
    "pfs": 3,
    "worker": 4,
    "executors": 4,
    "pps": 5,
    "client": 6,
    "": 6,  # ``loxo/__init__.py`` and ``import loxo``: the public SDK surface
    "server": 7,
    "cli": 8,
    "console": 8,
    "__main__": 8,
    "batch": 8,  # runs inside user code: the top of its own process, like the CLI
}
ENV_ALLOWED_FROM = 7  # the server's start-up and the CLI


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    """``loxo.pfs.tree`` -> ``pfs``; ``loxo`` -> ``""``; ``loxo.errors`` -> ``errors``."""
    parts = module.split(".")
    assert parts[0] == "loxo", module
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ``loxo`` module imported anywhere in the file (including inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "loxo")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "loxo":
                continue
            if target == "loxo":  # ``from loxo import pfs`` names a layer, not the root
                for alias in node.names:
                    sub = f"loxo.{alias.name}"
                    found.append((node.lineno, sub if alias.name in RANKS else "loxo"))
            else:
                found.append((node.lineno, target))
    return found


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = sorted({_layer(_module_name(p)) for p in _modules()} - set(RANKS))
    assert unknown == [], f"give these packages a rank in tests/test_layers.py and DESIGN.md: {unknown}"


def test_imports_only_go_down() -> None:
    violations = []
    for path in _modules():
        here = _module_name(path)
        rank = RANKS.get(_layer(here))
        if rank is None:
            continue
        for line, target in _imports(path):
            target_rank = RANKS.get(_layer(target))
            if target_rank is not None and target_rank > rank:
                violations.append(
                    f"{path.relative_to(SRC.parent)}:{line}: {here} (rank {rank}) imports "
                    f"{target} (rank {target_rank})"
                )
    assert violations == [], "\n".join(violations)


def test_storage_knows_nothing_of_repos() -> None:
    """Pachyderm's rule: the storage layer (chunks, packs) does not know repos or commits."""
    for path in (SRC / "storage").rglob("*.py"):
        for line, target in _imports(path):
            assert _layer(target) in ("errors", "model", "storage"), f"{path.name}:{line} imports {target}"


_ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}


def _env_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _ENV_NAMES:
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found.extend(
                f"{node.lineno}: from os import {a.name}" for a in node.names if a.name in _ENV_NAMES
            )
    return found


def test_only_the_cli_and_server_read_environment_variables() -> None:
    offenders = []
    for path in _modules():
        rank = RANKS.get(_layer(_module_name(path)), 0)
        if rank >= ENV_ALLOWED_FROM:
            continue
        offenders.extend(f"{path.relative_to(SRC.parent)}:{hit}" for hit in _env_reads(path))
    assert offenders == [], "\n".join(offenders)


# -- the checker itself must be able to fail --------------------------------------------
def test_checker_sees_upward_and_relative_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "loxo"
    (fake / "storage").mkdir(parents=True)
    bad = fake / "storage" / "bad.py"
    bad.write_text(
        "import os\n"
        "from loxo.pfs import tree\n"
        "from ..client import Client\n"
        "def f():\n"
        "    import loxo.cli.main\n"
        "    from loxo import pfs\n"
        "    return os.environ.get('X'), os.getenv('Y')\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    assert [t for _, t in _imports(bad)] == ["loxo.pfs", "loxo.client", "loxo.cli.main", "loxo.pfs"]
    assert len(_env_reads(bad)) == 2
