"""``Pps``: pipelines, jobs and datums over a ``Pfs``, with an executor to run datums."""

from __future__ import annotations

from pathlib import Path

from loxo.executors.local import Executor, LocalExecutor
from loxo.model.jobs import JobState
from loxo.pfs import Pfs
from loxo.pps.controller import JobStarted, run_pending
from loxo.pps.jobs import JobOps
from loxo.pps.pipelines import PipelineOps


class Pps(PipelineOps, JobOps):
    def __init__(self, pfs: Pfs, executor: Executor | None = None, use_sandbox: bool = True) -> None:
        self.pfs = pfs
        if executor is None:
            location = pfs.store.location
            if location is None:
                raise ValueError("the local executor needs a store with a location")
            scratch = Path(location.objects_url).parent / "scratch"
            executor = LocalExecutor(location, scratch, use_sandbox)
        self.executor = executor

    def run_pending(self, on_start: JobStarted | None = None) -> list[tuple[str, str, JobState]]:
        """Create and run every job that current data and specs call for."""
        return run_pending(self.pfs, self.executor, on_start)
