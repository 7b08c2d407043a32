"""Pipelines: create, update (a new version), inspect (any version), list, delete,
stop and start.

Each pipeline owns an output repo of its name and a hidden spec repo (``<name>.spec``)
whose commits are its versions: creating or updating a pipeline commits its spec there,
and that commit's global id is the id of the jobs it triggers (as Pachyderm 2.x).
"""

from __future__ import annotations

import json
import uuid
from contextlib import suppress
from typing import Any

import orjson
from sqlalchemy import Connection, Row, delete, select
from sqlalchemy import update as sql_update

from loxo.errors import AlreadyExists, InUse, InvalidArgument, PipelineNotFound, RepoNotFound
from loxo.meta import schema
from loxo.meta.db import as_utc, utcnow
from loxo.model.jobs import JobState, PipelineInfo, PipelineState
from loxo.model.refs import Commit, File
from loxo.pfs import Pfs, Source
from loxo.pfs.lookup import repo_row, resolve
from loxo.pps.cron import check_spec, cron_inputs
from loxo.pps.inputs import leaves
from loxo.pps.spec import PipelineSpec, spec_from_dict

P = schema.pipelines
SPEC_FILE = "/spec.json"


def spec_repo(pipeline: str) -> str:
    return f"{pipeline}.spec"


class PipelineOps:
    pfs: Pfs

    def create_pipeline(
        self, spec: PipelineSpec, *, update: bool = False, reprocess: bool = False
    ) -> PipelineInfo:
        """Create ``spec``'s pipeline, or with ``update`` make a new version of it.

        An update keeps the salt (unchanged datums are skipped) unless ``reprocess``.
        """
        inputs = _input_repos(spec)
        crons = _cron_repos(spec)
        for cron in cron_inputs(spec.input):
            check_spec(cron.spec)  # a schedule loxo cannot compute fails here, not at a tick
        with self.pfs.store.db.read() as conn:
            existing = conn.execute(select(P).where(P.c.name == spec.name)).first()
            for repo in inputs:
                if repo in crons:
                    _check_cron_repo(conn, repo)
                else:
                    repo_row(conn, repo)  # RepoNotFound with a hint, before anything is written
        if existing is not None and not update:
            raise AlreadyExists(
                f"pipeline {spec.name} already exists; change it with: loxo update pipeline"
            )
        self._check_no_cycle(spec.name, inputs)
        self._ensure_repos(spec.name, existing is None)
        self._ensure_cron_repos(spec.name, crons)
        payload = orjson.dumps(spec.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        commit = self.pfs.put_files(
            Commit(spec_repo(spec.name), "master"), [Source(SPEC_FILE, data=payload)],
            description=f"pipeline {spec.name} spec",
        )
        with self.pfs.store.db.write() as conn:
            row = conn.execute(select(P).where(P.c.name == spec.name)).first()
            salt = spec.salt or (row.salt if row is not None and not reprocess else uuid.uuid4().hex)
            values = {
                "spec": payload.decode(), "spec_commit": commit.id, "salt": salt,
                "input_repos": json.dumps(inputs),
            }
            if row is None:
                conn.execute(P.insert().values(
                    name=spec.name, created_at=utcnow(), state=PipelineState.RUNNING.value,
                    version=1, **values,
                ))
            else:
                conn.execute(sql_update(P).where(P.c.id == row.id).values(version=row.version + 1, **values))
        return self.inspect_pipeline(spec.name)

    def _ensure_repos(self, name: str, new: bool) -> None:
        with self.pfs.store.db.write() as conn:
            for repo, kind in ((name, "output"), (spec_repo(name), "spec")):
                found = conn.execute(
                    select(schema.repos).where(schema.repos.c.name == repo)
                ).first()
                if found is None:
                    conn.execute(schema.repos.insert().values(
                        name=repo, description=f"{kind} of pipeline {name}",
                        created_at=utcnow(), kind=kind,
                    ))
                elif new and found.kind != kind:
                    raise AlreadyExists(
                        f"a repo named {repo} already exists; a pipeline's output repo takes "
                        "its name: rename the pipeline or delete the repo"
                    )

    def _ensure_cron_repos(self, name: str, repos: list[str]) -> None:
        """Create the repos cron inputs tick into (Pachyderm: on create and update)."""
        with self.pfs.store.db.write() as conn:
            for repo in repos:
                if conn.execute(select(schema.repos.c.id).where(schema.repos.c.name == repo)).first() is None:
                    conn.execute(schema.repos.insert().values(
                        name=repo, description=f"cron ticks of pipeline {name}",
                        created_at=utcnow(), kind="user",
                    ))

    def _check_no_cycle(self, name: str, inputs: list[str]) -> None:
        graph = {p.name: list(p.inputs) for p in self.list_pipeline()}
        graph[name] = inputs
        seen: set[str] = set()
        stack = list(inputs)
        while stack:
            repo = stack.pop()
            if repo == name:
                raise InvalidArgument(f"pipeline {name} would read its own output (a cycle)")
            if repo not in seen:
                seen.add(repo)
                stack.extend(graph.get(repo, []))

    def inspect_pipeline(self, name: str, ancestors: int = 0) -> PipelineInfo:
        """The pipeline now, or ``ancestors`` versions back (``inspect pipeline name^``)."""
        with self.pfs.store.db.read() as conn:
            row = pipeline_row(conn, name)
            info = _info(conn, row)
            if not ancestors:
                return info
            _, spec_commit = resolve(conn, Commit(spec_repo(name), row.spec_commit, ancestors))
            version = row.version - ancestors
        spec = b"".join(self.pfs.read_file(File(Commit(spec_repo(name), spec_commit.id), SPEC_FILE)))
        return PipelineInfo(
            info.name, version, info.state, info.created, orjson.loads(spec), spec_commit.id,
            info.salt, info.inputs,
        )

    def pipeline_spec(self, name: str) -> PipelineSpec:
        with self.pfs.store.db.read() as conn:
            return spec_from_dict(json.loads(pipeline_row(conn, name).spec))

    def list_pipeline(self) -> list[PipelineInfo]:
        with self.pfs.store.db.read() as conn:
            rows = conn.execute(select(P).order_by(P.c.created_at.desc())).all()
            return [_info(conn, r) for r in rows]

    def delete_pipeline(self, name: str, force: bool = False) -> None:
        """Delete the pipeline, its jobs, its output repo, its spec history and, as
        Pachyderm does, the repos of its cron inputs (one another pipeline reads stays)."""
        users = [u for u in self.pfs.dependents_of(name) if u != name]
        if users and not force:
            raise InUse(f"pipeline(s) {', '.join(users)} read {name}'s output; delete them first or --force")
        with self.pfs.store.db.write() as conn:
            row = pipeline_row(conn, name)
            crons = _cron_repos(spec_from_dict(json.loads(row.spec)))
            conn.execute(delete(schema.jobs).where(schema.jobs.c.pipeline_id == row.id))
            conn.execute(delete(P).where(P.c.id == row.id))
        for repo in (name, spec_repo(name)):
            self.pfs.delete_repo(repo, force=True)
        for repo in crons:
            if not self.pfs.dependents_of(repo):
                with suppress(RepoNotFound):  # deleted by hand meanwhile
                    self.pfs.delete_repo(repo)

    def stop_pipeline(self, name: str) -> PipelineInfo:
        return self._set_state(name, PipelineState.PAUSED)

    def start_pipeline(self, name: str) -> PipelineInfo:
        return self._set_state(name, PipelineState.RUNNING)

    def _set_state(self, name: str, state: PipelineState) -> PipelineInfo:
        with self.pfs.store.db.write() as conn:
            row = pipeline_row(conn, name)
            conn.execute(sql_update(P).where(P.c.id == row.id).values(state=state.value))
        return self.inspect_pipeline(name)


def _input_repos(spec: PipelineSpec) -> list[str]:
    repos: list[str] = []
    for leaf in leaves(spec.input):
        if leaf.repo not in repos:
            repos.append(leaf.repo)
    if spec.name in repos:
        raise InvalidArgument(f"pipeline {spec.name} cannot read its own output repo")
    return repos


def _cron_repos(spec: PipelineSpec) -> list[str]:
    """The repos of ``spec``'s cron inputs."""
    return list(dict.fromkeys(cron.repo for cron in cron_inputs(spec.input)))


def _check_cron_repo(conn: Connection, repo: str) -> None:
    """A cron input may tick into a missing repo (it is created) or a user repo, never
    into a pipeline's output."""
    found = conn.execute(select(schema.repos.c.kind).where(schema.repos.c.name == repo)).first()
    if found is not None and found.kind != "user":
        raise InvalidArgument(
            f"cron input repo {repo} is a pipeline's {found.kind} repo; name another with cron.repo"
        )


def pipeline_row(conn: Connection, name: str) -> Row[Any]:
    row = conn.execute(select(P).where(P.c.name == name)).first()
    if row is None:
        raise PipelineNotFound(
            f"pipeline {name} not found; create it with: loxo create pipeline -f spec.json"
        )
    return row


def _info(conn: Connection, row: Row[Any]) -> PipelineInfo:
    J = schema.jobs
    last = conn.execute(
        select(J.c.id, J.c.state).where(J.c.pipeline_id == row.id).order_by(J.c.pk.desc()).limit(1)
    ).first()
    return PipelineInfo(
        name=row.name, version=row.version, state=PipelineState(row.state),
        created=as_utc(row.created_at), spec=json.loads(row.spec), spec_commit=row.spec_commit,
        salt=row.salt, inputs=tuple(json.loads(row.input_repos)),
        last_job=last.id if last else None,
        last_job_state=JobState(last.state) if last else None,
    )
