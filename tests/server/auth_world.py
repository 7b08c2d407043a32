"""A store with auth active, for the auth tests: repos, a pipeline, a job, and one
token per kind of caller, each holding one role on ``data`` and on the pipeline ``out``.

Callers, weakest first (the matrix relies on this order)::

    anonymous   no token at all
    nobody      a valid token (user:nobody) with no role anywhere
    reader      repoReader on data and out
    writer      repoWriter on data and out
    owner       repoOwner on data and out
    admin       the root token (clusterAdmin)

Also in the store: ``other`` (a repo nobody but the admin may touch), an open commit on
``data@dev``, a second branch ``data@old`` at master's head, a finished job of ``out``.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import loxo
from loxo.pfs.store import DB_FILE, OBJECTS_DIR
from loxo.pps.spec import spec_from_dict
from tests.support.inprocess import serve_in_process

CALLERS = ("anonymous", "nobody", "reader", "writer", "owner", "admin")
ROLES = {"reader": "repoReader", "writer": "repoWriter", "owner": "repoOwner"}


def copy_spec(name: str, repo: str = "data") -> dict[str, Any]:
    return {
        "pipeline": {"name": name},
        "transform": {"cmd": ["sh", "-c", "cp -r /pfs/in/. /pfs/out/"]},
        "input": {"pfs": {"repo": repo, "glob": "/*", "name": "in"}},
    }


@dataclass(frozen=True)
class World:
    template: Path  # a closed store; copy it, never change it
    tokens: dict[str, str | None]  # caller -> token
    first: str  # the first commit on data@master
    head: str  # data@master's head
    open: str  # an open commit on data@dev
    job: str  # the finished job of out (also the global id of its commit set)
    datum: str

    def copy(self, target: Path) -> Path:
        shutil.copytree(self.template, target)
        return target


def build_world(root: Path) -> World:
    home = root / "store"
    with loxo.Client(home) as c:
        c.create_repo("data")
        first = c.put_file("data@master:/a.txt", b"A").id
        head = c.put_file("data@master:/b.txt", b"B").id
        c.create_branch("data@old", f"data@{head}")
        c.create_pipeline(spec_from_dict(copy_spec("out")))
        job = c.list_job("out")[0].id
        datum = c.list_datum(f"out@{job}")[0].id
        opened = c.start_commit("data@dev").id
        c.create_repo("other")
        c.put_file("other@master:/secret.txt", b"S")
    with serve_in_process(home) as remote:
        tokens: dict[str, str | None] = {"anonymous": None, "admin": remote.activate_auth()}
        tokens["nobody"] = remote.get_token("user:nobody")
        for caller, role in ROLES.items():
            tokens[caller] = remote.get_token(f"user:{caller}")
            for repo in ("data", "out"):
                remote.set_repo_role(repo, f"user:{caller}", role)
    return World(home, tokens, first, head, opened, job, datum)


def snapshot(home: Path) -> str:
    """A digest of everything a request could change: every table's rows, and the
    names of the stored objects."""
    digest = hashlib.sha256()
    with closing(sqlite3.connect(f"file:{home / DB_FILE}?mode=ro", uri=True)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                           "ORDER BY name")]
        for table in tables:
            rows = sorted(repr(r) for r in db.execute(f'SELECT * FROM "{table}"'))
            digest.update(f"{table}:{rows}".encode())
    objects = sorted(str(p.relative_to(home)) for p in (home / OBJECTS_DIR).rglob("*"))
    digest.update(repr(objects).encode())
    return digest.hexdigest()
