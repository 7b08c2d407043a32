"""A worker: runs datums one after another in one long-lived sandbox.

Per datum: materialise the inputs into scratch space, run the command (retried up to
``datum_tries`` times, each try with a clean output directory), run ``err_cmd`` if it
still fails. Each datum's outputs are stored as soon as it is done, while the next
datums run, into the set's packs (``DirectoryTrees``); no metadata is written, so
workers never queue for the database. User code's stdout and stderr are kept line by
line.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from loxo.pfs.snapshots import Built, DirectoryTrees, materialize
from loxo.pfs.store import Store, StoreLocation
from loxo.storage.objects import LocalObjectStore
from loxo.worker.batching import BatchProcess, run_batched
from loxo.worker.logs import LogRanges
from loxo.worker.sandbox import AHEAD, DatumRun, Program, Sandbox, open_sandbox
from loxo.worker.scratch import remove_made
from loxo.worker.task import DatumResult, DatumSet, DatumTask, Ran, Transform


class DatumWorker:
    def __init__(self, location: StoreLocation, scratch: Path, use_sandbox: bool = True) -> None:
        self.location = location
        self.store: Store = location.open_for_worker()
        if isinstance(self.store.objects, LocalObjectStore):
            self.store.objects.keep_open = 8  # each datum's input is one read from a pack
        self.scratch = scratch
        self.sandbox: Sandbox
        self.sandbox, self.warning = open_sandbox(scratch, use_sandbox)
        self._n = 0
        self._kept: BatchProcess | None = None  # a batch process waiting for its job's next set

    def close(self) -> None:
        self.release()
        self.sandbox.close()
        self.store.close()

    def run_set(self, work: DatumSet, upcoming: Callable[[], DatumSet | None] | None = None,
                ) -> list[DatumResult]:
        """Run every datum of the set; each one's outputs are stored as soon as it is
        done, and their trees built every few datums, while the next ones run.

        ``upcoming`` tells the set that comes next, where the caller knows it: a datum
        batching process is then kept for it if it can take it (see ``run_batched``).
        """
        outputs = _Outputs(self.store)
        kept, self._kept = self._kept, None
        if kept is not None and not kept.fits(work):
            kept.dismiss()
            kept = None
        if work.transform.datum_batching:
            ran, self._kept = run_batched(self, work, outputs.take, kept, upcoming)
        else:
            ran = self._run_all(work, outputs.take)
        for r in ran:  # those not taken yet (a batch process that died, say)
            outputs.take(r)
        started = time.time()
        built = outputs.trees.finish()
        upload = (outputs.seconds + time.time() - started) / max(1, len(built))
        nothing = Built(None, {}, (), 0)
        results = []
        for r in ran:
            i = outputs.index.get(r.datum_id)
            tree = nothing if i is None else built[i]
            results.append(DatumResult(
                r.datum_id, r.state, tree.tree, tree.nodes, tree.parts, tree.size, r.error,
                r.attempts, r.started, r.finished, r.download, r.process, upload if r.ok else 0.0,
                r.downloaded, r.logs,
            ))
        return results

    def release(self) -> None:
        """End a batch process kept for a next set that will not come."""
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.dismiss()

    def datum_out(self) -> str:
        """A fresh scratch directory for one datum's outputs."""
        self._n += 1
        out = f"{self.scratch}/out/{self._n}"
        os.mkdir(out)
        return out

    def fetch(
        self, datum: DatumTask, inp: str | Path, created: list[tuple[str, bool]] | None = None
    ) -> tuple[dict[str, str], int]:
        """Materialise the datum's inputs under ``inp``: ({input name: dir}, bytes).
        ``created`` collects what was made, for ``remove_made``."""
        dirs: dict[str, str] = {}
        downloaded = 0
        for item in datum.inputs:
            target = f"{inp}/{item.name}"
            downloaded += materialize(self.store, item.tree, item.path, target, item.empty_files,
                                      created)
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

    def _run_all(self, work: DatumSet, done: Callable[[Ran], None]) -> list[Ran]:
        """One datum after another in the sandbox's runner, which retries them and runs
        ``err_cmd`` itself: one message per datum, and all output in two log files.
        ``done`` gets each datum as soon as its outcome is in."""
        t = work.transform
        self._n += 1
        tag = f"set{self._n}"
        inp_root, out_root, log_root = (f"{self.scratch}/{sub}/{tag}" for sub in ("in", "out", "logs"))
        for root in (inp_root, out_root, log_root):
            os.mkdir(root)
        program = Program(t.cmd, t.stdin, self.environment(t, {}), t.working_dir, t.datum_timeout,
                          t.datum_tries, t.accept_return_code, t.err_cmd, t.err_stdin,
                          f"{log_root}/stdout", f"{log_root}/stderr")
        fetched: deque[tuple[str, list[tuple[str, bool]], float, float, int]] = deque()
        # Input directories are reused: the runner holds at most AHEAD datums, and a
        # datum's inputs are removed before the one AHEAD after it is prepared.
        slots = [f"{inp_root}/{k}" for k in range(2 * AHEAD)]
        for slot in slots:
            os.mkdir(slot)

        def prepare() -> Iterator[DatumRun]:
            # lazily: the runner takes these a few ahead of the outcomes read below
            for i, datum in enumerate(work.datums):
                inp, started = slots[i % len(slots)], time.time()
                created: list[tuple[str, bool]] = []
                dirs, downloaded = self.fetch(datum, inp, created)
                links = {f"/pfs/{name}": path for name, path in dirs.items()}
                links["/pfs/out"] = f"{out_root}/{i}"
                fetched.append((inp, created, started, time.time(), downloaded))
                yield DatumRun(links, self.datum_variables(datum.env), f"{out_root}/{i}", downloaded)

        logs = LogRanges(program.stdout, program.stderr)
        ran: list[Ran] = []
        try:
            outcomes = self.sandbox.run_set(program, prepare())
            for i, (datum, o) in enumerate(zip(work.datums, outcomes, strict=True)):
                inp, created, started, ready, downloaded = fetched.popleft()
                remove_made(inp, created, keep=True)
                ran.append(Ran(datum.datum_id, o.state, o.state == "success", f"{out_root}/{i}",
                               o.error, o.attempts, started, o.finished, ready - started,
                               o.finished - o.started, downloaded, logs.take(o.logs, o.finished)))
                done(ran[-1])
        finally:
            for root in (inp_root, out_root, log_root):
                shutil.rmtree(root, ignore_errors=True)
        return ran


def _retarget(env: dict[str, str], root: str) -> dict[str, str]:
    """Datum variables name ``/pfs/...``; without a sandbox they point at scratch."""
    if root == "/pfs":
        return env
    return {k: (root + v.removeprefix("/pfs") if v.startswith("/pfs") else v) for k, v in env.items()}


class _Outputs:
    """A set's outputs: each datum's directory is stored (if it succeeded) and removed
    once, as soon as the datum is done."""

    def __init__(self, store: Store) -> None:
        self.trees = DirectoryTrees(store)
        self.index: dict[str, int] = {}  # datum id -> its place in what ``trees`` made
        self.taken: set[str] = set()
        self.seconds = 0.0

    def take(self, r: Ran) -> None:
        if r.datum_id in self.taken:
            return
        self.taken.add(r.datum_id)
        if not r.ok:
            shutil.rmtree(r.out, ignore_errors=True)
            return
        started = time.time()
        self.index[r.datum_id] = len(self.index)
        files = self.trees.add(r.out)
        remove_made(r.out, [(f.local, False) for f in files if f.local is not None])
        self.seconds += time.time() - started
