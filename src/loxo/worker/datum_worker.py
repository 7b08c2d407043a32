"""A worker: runs datums one after another in one long-lived sandbox.

Per datum: materialise the inputs into scratch space, run the command (retried up to
``datum_tries`` times, each try with a clean output directory), run ``err_cmd`` if it
still fails. The outputs of a whole datum set are then stored in one go (one pack, no
metadata writes), so workers never queue for the database. User code's stdout and
stderr are kept line by line.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from loxo.pfs.snapshots import materialize, store_directories
from loxo.pfs.store import Store, StoreLocation
from loxo.worker.batching import run_batched
from loxo.worker.logs import read_logs
from loxo.worker.sandbox import RunRequest, RunResult, Sandbox, open_sandbox
from loxo.worker.task import DatumResult, DatumSet, DatumTask, Ran, Transform


class DatumWorker:
    def __init__(self, location: StoreLocation, scratch: Path, use_sandbox: bool = True) -> None:
        self.location = location
        self.store: Store = location.open()
        self.scratch = scratch
        self.sandbox: Sandbox
        self.sandbox, self.warning = open_sandbox(scratch, use_sandbox)
        self._n = 0

    def close(self) -> None:
        self.sandbox.close()
        self.store.close()

    def run_set(self, work: DatumSet) -> list[DatumResult]:
        """Run every datum of the set, then store all their outputs at once."""
        if work.transform.datum_batching:
            ran = run_batched(self, work)
        else:
            ran = [self._run_datum(work, d) for d in work.datums]
        started = time.time()
        stored = store_directories(self.store, [str(r.out) for r in ran if r.ok])
        upload = (time.time() - started) / max(1, len(stored))
        outputs = iter(stored)
        results = []
        for r in ran:
            files = next(outputs) if r.ok else []
            results.append(DatumResult(
                r.datum_id, r.state, tuple(files), sum(e.size for _, e in files), r.error,
                r.attempts, r.started, r.finished, r.download, r.process, upload if r.ok else 0.0,
                r.downloaded, r.logs,
            ))
            shutil.rmtree(r.out, ignore_errors=True)
        return results

    def slot(self, logs: bool = True) -> tuple[Path, Path, Path]:
        """Fresh scratch directories for one datum: inputs, outputs and (unless a batch
        process keeps its own) logs."""
        self._n += 1
        n = str(self._n)
        inp, out, log_dir = (self.scratch / sub / n for sub in ("in", "out", "logs"))
        os.makedirs(out)
        if logs:
            os.makedirs(log_dir)
        return inp, out, log_dir

    def fetch(self, datum: DatumTask, inp: Path) -> tuple[dict[str, Path], int]:
        """Materialise the datum's inputs under ``inp``: ({input name: dir}, bytes)."""
        dirs: dict[str, Path] = {}
        downloaded = 0
        for item in datum.inputs:
            target = inp / item.name
            target.mkdir(parents=True, exist_ok=True)
            downloaded += materialize(self.store, item.tree, item.path, target, item.empty_files)
            dirs[item.name] = target
        return dirs, downloaded

    def environment(self, t: Transform, datum_env: dict[str, str]) -> dict[str, str]:
        """The whole environment of user code: basics, the spec's ``env``, the datum's."""
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
        env.update(t.env)
        env.update(self.datum_variables(datum_env))
        return env

    def datum_variables(self, datum_env: dict[str, str]) -> dict[str, str]:
        """The datum's own variables, with /pfs paths where this sandbox has them."""
        return _retarget(datum_env, self.sandbox.pfs_root)

    def _run_datum(self, work: DatumSet, datum: DatumTask) -> Ran:
        inp, out, logs = self.slot()
        started = time.time()
        dirs, downloaded = self.fetch(datum, inp)
        links = {f"/pfs/{name}": str(path) for name, path in dirs.items()}
        links["/pfs/out"] = str(out)
        fetched = time.time()
        ok, attempts, error, recovered = self._attempts(work.transform, datum, links, out, logs)
        finished = time.time()
        lines = tuple(read_logs(logs))
        shutil.rmtree(inp, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
        state = "success" if ok else ("recovered" if recovered else "failed")
        return Ran(datum.datum_id, state, ok, out, error, attempts, started, finished,
                   fetched - started, finished - fetched, downloaded, lines)

    def _attempts(
        self, t: Transform, datum: DatumTask, links: dict[str, str], out: Path, logs: Path
    ) -> tuple[bool, int, str, bool]:
        """Run up to ``datum_tries`` times; ``(succeeded, tries, error, recovered)``."""
        error = ""
        tries = max(1, t.datum_tries)
        for attempt in range(1, tries + 1):
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            result = self._run(t.cmd, t.stdin, t, datum, links, logs)
            if not result.timed_out and (result.code == 0 or result.code in t.accept_return_code):
                return True, attempt, "", False
            error = (f"timed out after {t.datum_timeout} s" if result.timed_out
                     else f"exited with code {result.code}")
        recovered = False
        if t.err_cmd:
            res = self._run(t.err_cmd, t.err_stdin, t, datum, links, logs)
            recovered = not res.timed_out and res.code == 0
        return False, tries, f"{error} (tried {tries} times)", recovered

    def _run(
        self, cmd: tuple[str, ...], stdin: tuple[str, ...], t: Transform, datum: DatumTask,
        links: dict[str, str], logs: Path,
    ) -> RunResult:
        env = self.environment(t, datum.env)
        req = RunRequest(cmd, stdin, env, links, t.working_dir, t.datum_timeout,
                         str(logs / "stdout"), str(logs / "stderr"))
        return self.sandbox.run(req)


def _retarget(env: dict[str, str], root: str) -> dict[str, str]:
    """Datum variables name ``/pfs/...``; without a sandbox they point at scratch."""
    if root == "/pfs":
        return env
    return {k: (root + v.removeprefix("/pfs") if v.startswith("/pfs") else v) for k, v in env.items()}
