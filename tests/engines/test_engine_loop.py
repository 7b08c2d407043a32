"""The engine executors' shared loop against an inline fake engine (no processes, no
sockets), and executor names. Fast: these run in every test run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from loxo.errors import InvalidArgument
from loxo.executors.choose import ExecutorSpec, open_executor, parse_executor
from loxo.executors.dask import _constraints
from loxo.executors.engine import (
    INFRASTRUCTURE,
    EngineExecutor,
    EngineUnavailable,
    SetReply,
    TaskLost,
    Unschedulable,
    fits,
)
from loxo.executors.local import LocalExecutor
from loxo.executors.ray import _request
from loxo.pfs.store import StoreLocation
from loxo.worker.task import DatumResult, DatumSet, DatumTask, TaskInput, TaskResources, Transform

LOCATION = StoreLocation("sqlite:///nowhere.db", "/nowhere")
NOTHING = TaskResources()


def sets(count: int, size: int = 2, resources: TaskResources = NOTHING) -> list[DatumSet]:
    return [DatumSet(LOCATION, "job", "p", Transform(("true",)),
                     tuple(DatumTask(f"d{n}-{i}", (), {}) for i in range(size)), resources)
            for n in range(count)]


class FakeEngine:
    """Runs each set "instantly" on wait(); records how many were in flight at once."""

    description = "the fake cluster"

    def __init__(self, lose: frozenset[str] = frozenset(), gone_after: int | None = None,
                 hang: bool = False, offer: float = 4.0) -> None:
        self.lose, self.gone_after, self.hang, self.offer = lose, gone_after, hang, offer
        self.pending: dict[int, DatumSet] = {}
        self.peak = self.started = self.waits = 0
        self.cancelled: list[int] = []
        self.closed = 0
        self._n = 0

    refuse = 0  # how many starts fail first

    def start(self) -> float:
        self.started += 1
        if self.started <= self.refuse:
            raise ConnectionRefusedError("Running Ray Init failed")
        return 0.5

    def check(self, need: TaskResources) -> None:
        if (need.cpu or 1) > self.offer:
            raise Unschedulable(f"no node of {self.description} can satisfy ({need.describe()})")

    def submit(self, work: DatumSet) -> int:
        self._n += 1
        self.pending[self._n] = work
        self.peak = max(self.peak, len(self.pending))
        return self._n

    def wait(self, pending: list[int], timeout: float) -> list[int]:
        self.waits += 1
        if self.gone_after is not None and self.waits > self.gone_after:
            raise ConnectionError("scheduler-connection-lost")
        if self.hang:
            time.sleep(0.01)
            return []
        return pending[:1]

    def reply(self, handle: int) -> SetReply:
        work = self.pending.pop(handle)
        if work.datums[0].datum_id in self.lose:
            raise TaskLost("workers died 4 times")
        now = time.time()
        results = [DatumResult(d.datum_id, "success", None, {}, (), 0, "", 1, now, now, 0, 0, 0, 0, ())
                   for d in work.datums]
        return SetReply(results, None, "fake:1")

    def cancel(self, pending: list[int]) -> None:
        self.cancelled.extend(pending)

    def ping(self) -> None:
        if self.hang:
            threading.Event().wait(5)

    def close(self) -> None:
        self.closed += 1


def test_at_most_parallelism_sets_in_flight_and_every_result_comes_back() -> None:
    engine = FakeEngine()
    executor = EngineExecutor(engine)
    got = [r.datum_id for batch in executor.run(sets(10), 3) for r in batch]
    assert len(got) == 20 and engine.peak == 3
    assert executor.startup_seconds == 0.5


def test_a_set_the_engine_gave_up_on_fails_as_infrastructure() -> None:
    executor = EngineExecutor(FakeEngine(lose=frozenset({"d1-0"})))
    results = [r for batch in executor.run(sets(3), 2) for r in batch]
    failed = [r for r in results if r.state == "failed"]
    assert [r.datum_id for r in failed] == ["d1-0", "d1-1"]
    assert all(r.error == INFRASTRUCTURE + "workers died 4 times" for r in failed)
    assert all(r.logs and r.logs[0].stream == "system" for r in failed)


def test_unsatisfiable_requests_fail_before_anything_is_submitted() -> None:
    engine = FakeEngine(offer=2)
    with pytest.raises(Unschedulable, match="cpu=64"):
        list(EngineExecutor(engine).run(sets(2, resources=TaskResources(cpu=64)), 2))
    assert engine._n == 0


def test_a_lost_engine_ends_the_run_and_is_reconnected_next_time() -> None:
    engine = FakeEngine(gone_after=1)
    executor = EngineExecutor(engine)
    with pytest.raises(EngineUnavailable, match="lost the fake cluster: ConnectionError"):
        list(executor.run(sets(4), 2))
    assert engine.closed == 1  # dropped: the next run starts (connects) again
    engine.gone_after = None
    assert len(list(executor.run(sets(1), 1))) == 1 and engine.started == 2


def test_an_engine_that_stops_answering_times_out() -> None:
    engine = FakeEngine(hang=True)
    executor = EngineExecutor(engine, timeout=0.2, heartbeat=0.05)
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match=r"did not answer for 0\.2 s"):
        list(executor.run(sets(2), 2))
    assert time.monotonic() - started < 3
    assert engine.cancelled == [1, 2]  # what was in flight is cancelled


def test_a_refused_start_is_tried_again_then_reported() -> None:
    engine = FakeEngine()
    engine.refuse = 2
    executor = EngineExecutor(engine)
    executor.retry_pause = 0.0
    assert len(list(executor.run(sets(1), 1))) == 1 and engine.started == 3
    engine = FakeEngine()
    engine.refuse = 5
    executor = EngineExecutor(engine)
    executor.retry_pause = 0.0
    with pytest.raises(EngineUnavailable, match=r"could not reach the fake cluster \(3 tries\)"):
        list(executor.run(sets(1), 1))


def test_executor_names() -> None:
    assert parse_executor("local") == ExecutorSpec("local")
    assert parse_executor("Ray") == ExecutorSpec("ray")
    assert parse_executor("ray://10.0.0.5:10001") == ExecutorSpec("ray", "ray://10.0.0.5:10001")
    assert parse_executor("dask://h:8786?timeout=5") == ExecutorSpec("dask", "tcp://h:8786", 5.0)
    assert parse_executor("tcp://h:8786") == ExecutorSpec("dask", "tcp://h:8786")
    assert parse_executor("dask?workers=3") == ExecutorSpec("dask", None, 60.0, 3)
    assert parse_executor("local?pin=0") == ExecutorSpec("local", pin=False)
    for bad in ("spark", "ray://nohost", "ray://h:1/path", "dask?color=red", "ray?timeout=-1", "http://h:1",
                "local?pin=no"):
        with pytest.raises(InvalidArgument):
            parse_executor(bad)


def test_open_executor_starts_nothing(tmp_path: Path) -> None:
    assert isinstance(open_executor("local", LOCATION, tmp_path), LocalExecutor)
    local = open_executor("local?pin=0", LOCATION, tmp_path)
    assert isinstance(local, LocalExecutor) and not local.pin_workers
    for name in ("ray", "dask", "ray://127.0.0.1:1", "dask://127.0.0.1:1"):
        executor = open_executor(name, LOCATION, tmp_path)
        assert isinstance(executor, EngineExecutor)
        executor.close()  # never connected: nothing to stop


def test_resource_requests_in_each_engines_terms() -> None:
    assert _request(TaskResources()) == {"CPU": 1.0, "GPU": 0.0}
    need = TaskResources(cpu=2, memory=2**30, gpu=1, gpu_type="A100")
    assert _request(need) == {"CPU": 2, "GPU": 1.0, "memory": 2**30, "accelerator_type:A100": 0.001}
    assert fits({"CPU": 4, "GPU": 1, "memory": 2**31, "accelerator_type:A100": 1}, _request(need))
    assert not fits({"CPU": 4, "memory": 2**31}, _request(need))
    plain = {"nthreads": 2, "memory_limit": 2**31, "resources": {}}
    assert _constraints(TaskResources(cpu=2, memory=2**30), plain) == {}
    assert _constraints(TaskResources(cpu=3), plain) is None
    assert _constraints(TaskResources(gpu=1), plain) is None
    declared = {"nthreads": 1, "memory_limit": 0, "resources": {"GPU": 2, "cpu": 8}}
    assert _constraints(TaskResources(cpu=4, gpu=2), declared) == {"GPU": 2.0, "cpu": 4}


@pytest.mark.timeout(60)
def test_an_engine_worker_keeps_its_datum_worker_and_reports_machinery_failures(
    tmp_path: Path, empty_store_template: Path
) -> None:
    """``run_set_here`` as an engine runs it, in this process: one ``DatumWorker`` per
    store kept between sets (at most ``KEPT_STORES``), and a failure outside user code
    fails the set's datums as an infrastructure failure."""
    import shutil

    from loxo.executors import engine

    locations = []
    for n in range(3):
        shutil.copytree(empty_store_template, tmp_path / f"s{n}")
        locations.append(StoreLocation.embedded(tmp_path / f"s{n}"))
    transform = Transform(cmd=("true",))
    good = (DatumTask("good", (), {}),)
    scratch = str(tmp_path / "scratch")
    try:
        first = engine.run_set_here(DatumSet(locations[0], "j", "p", transform, good), scratch, False)
        kept = dict(engine._local.workers)
        again = engine.run_set_here(DatumSet(locations[0], "j", "p", transform, good), scratch, False)
        assert [r.state for r in first.results + again.results] == ["success", "success"]
        assert engine._local.workers == kept  # the same DatumWorker ran both sets
        for location in locations[1:]:
            engine.run_set_here(DatumSet(location, "j", "p", transform, good), scratch, False)
        assert [k[0] for k in engine._local.workers] == locations[1:]  # the oldest was closed
        bad = (DatumTask("bad", (TaskInput("in", "data", "c0", "blake3:" + "0" * 64, "/a"),), {}),)
        reply = engine.run_set_here(DatumSet(locations[2], "j", "p", transform, bad), scratch, False)
        assert reply.results[0].state == "failed"
        assert reply.results[0].error.startswith(INFRASTRUCTURE + "engine worker ")
        assert locations[2] not in [k[0] for k in engine._local.workers]  # opened afresh next time
    finally:
        engine._close_all()
        engine._local.workers = {}
