"""Pipeline, job and datum verbs of ``Client`` (a mixin: ``Client`` holds the state)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from loxo.errors import InvalidAddress
from loxo.model.address import check_repo_name, parse_file
from loxo.model.jobs import DatumInfo, FileLineage, JobInfo, JobState, LogEntry, PipelineInfo
from loxo.model.refs import Commit, CommitInfo
from loxo.pps.controller import JobStarted
from loxo.pps.datums import Datum
from loxo.pps.spec import LoadedSpec, PipelineSpec, load_spec_file

if TYPE_CHECKING:
    from loxo.client.backend import PfsVerbs, PpsVerbs

SpecLike = PipelineSpec | str | os.PathLike[str]


def split_job(text: str) -> tuple[str, str]:
    """``pipeline@job-id`` into its parts."""
    pipeline, sep, job = text.partition("@")
    if not sep or not job:
        raise InvalidAddress(f"expected pipeline@job-id, got {text!r}")
    return check_repo_name(pipeline), job


def split_version(text: str) -> tuple[str, int]:
    """``name``, ``name^`` or ``name^2`` into (name, versions back)."""
    name, _, tail = text.partition("^")
    back = 0 if not _ and not tail else (int(tail) if tail.isdigit() else 1 + tail.count("^"))
    return check_repo_name(name), back


class PipelineVerbs:
    pfs: PfsVerbs
    pps: PpsVerbs
    auto_run: bool
    on_job: JobStarted | None

    # -- running ---------------------------------------------------------------------
    def run_pending(self, now: datetime | None = None) -> list[tuple[str, str, JobState]]:
        """Commit the cron ticks due by ``now`` (default: the clock), then create and run
        every job that current data and specs call for (embedded)."""
        return self.pps.run_pending(self.on_job, now)

    def run_cron(self, pipeline: str, now: datetime | None = None) -> CommitInfo:
        """Tick ``pipeline``'s cron inputs now (``pachctl run cron``), whatever their
        schedule, and run the job it triggers unless ``auto_run`` is off.

        Returns the tick's commit (the last one, for several cron inputs); a tick already
        made at this second is not made again, and its commit is returned.
        """
        info = self.pps.run_cron(pipeline, now)
        self._settle()
        return info

    def _settle(self) -> None:
        if self.auto_run:
            self.run_pending()

    # -- pipelines -------------------------------------------------------------------
    def load_specs(self, spec: SpecLike) -> list[LoadedSpec]:
        """Parse a spec file (a path); a ``PipelineSpec`` passes through. For spec text,
        use ``loxo.pps.spec.load_specs`` and pass its specs."""
        if isinstance(spec, PipelineSpec):
            return [LoadedSpec(spec, [])]
        return load_spec_file(os.fspath(spec))

    def create_pipeline(
        self, spec: SpecLike, *, update: bool = False, reprocess: bool = False
    ) -> list[PipelineInfo]:
        """Create (or ``update``) every pipeline in ``spec``; runs their jobs unless
        ``auto_run`` is off."""
        infos = [self.pps.create_pipeline(s.spec, update=update, reprocess=reprocess)
                 for s in self.load_specs(spec)]
        self._settle()
        return infos

    def update_pipeline(self, spec: SpecLike, *, reprocess: bool = False) -> list[PipelineInfo]:
        return self.create_pipeline(spec, update=True, reprocess=reprocess)

    def inspect_pipeline(self, name: str) -> PipelineInfo:
        """``name`` now, or ``name^`` / ``name^2`` for earlier versions."""
        pipeline, back = split_version(name)
        return self.pps.inspect_pipeline(pipeline, back)

    def list_pipeline(self) -> list[PipelineInfo]:
        return self.pps.list_pipeline()

    def delete_pipeline(self, name: str, force: bool = False) -> None:
        self.pps.delete_pipeline(name, force)

    def stop_pipeline(self, name: str) -> PipelineInfo:
        return self.pps.stop_pipeline(name)

    def start_pipeline(self, name: str) -> PipelineInfo:
        info = self.pps.start_pipeline(name)
        self._settle()
        return info

    # -- jobs and datums -------------------------------------------------------------
    def list_job(self, pipeline: str | None = None, job_id: str | None = None) -> list[JobInfo]:
        return self.pps.list_job(pipeline, job_id)

    def inspect_job(self, job: str) -> JobInfo:
        """``pipeline@job-id``."""
        return self.pps.inspect_job(*split_job(job))

    def wait_job(self, job: str, timeout: float | None = None) -> JobInfo:
        return self.pps.wait_job(*split_job(job), timeout=timeout)

    def stop_job(self, job: str) -> JobInfo:
        return self.pps.stop_job(*split_job(job))

    def list_datum(self, job: str) -> list[DatumInfo]:
        return self.pps.list_datum(*split_job(job))

    def inspect_datum(self, job: str, datum_id: str) -> DatumInfo:
        return self.pps.inspect_datum(*split_job(job), datum_id)

    def logs(
        self, pipeline: str, job_id: str | None = None, datum_id: str | None = None
    ) -> Iterator[LogEntry]:
        return self.pps.logs(pipeline, job_id, datum_id)

    def preview_datums(self, spec: SpecLike) -> list[tuple[str, Datum]]:
        """The datums each pipeline in ``spec`` would make now: ``(datum id, datum)``."""
        return [d for s in self.load_specs(spec) for d in self.pps.preview_datums(s.spec)]

    # -- provenance ------------------------------------------------------------------
    def provenance(self, ref: str | Commit) -> list[tuple[str, str]]:
        """Every commit ``ref`` came from, transitively: ``(repo, commit id)``."""
        commit = ref if isinstance(ref, Commit) else parse_file(ref).commit
        return self.pps.provenance(commit)

    def subvenance(self, ref: str | Commit) -> list[tuple[str, str]]:
        commit = ref if isinstance(ref, Commit) else parse_file(ref).commit
        return self.pps.subvenance(commit)

    def lineage(self, ref: str) -> FileLineage:
        """The job, datum and exact input files that produced an output file."""
        return self.pps.lineage(parse_file(ref))
