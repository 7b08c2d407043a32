"""``SetStream``: datum sets handed to workers while a job is still planned."""

from __future__ import annotations

import threading

import pytest

from loxo.pfs.store import StoreLocation
from loxo.pps.set_stream import Cancelled, SetStream
from loxo.worker.task import DatumSet, DatumTask, TaskResources, Transform

LOCATION = StoreLocation("sqlite:////nowhere/loxo.db", "/nowhere/objects")
TRANSFORM = Transform(("true",))


def tasks(n: int, start: int = 0) -> list[DatumTask]:
    return [DatumTask(f"d{i}", (), {}) for i in range(start, start + n)]


def stream(start_at: int | None = 4, early: int = 3) -> SetStream:
    def make_set(chunk: tuple[DatumTask, ...]) -> DatumSet:
        return DatumSet(LOCATION, "job", "p", TRANSFORM, chunk, TaskResources())

    return SetStream(make_set, lambda n: [n // 2, n - n // 2] if n > 1 else [n] * n, start_at, early)


def ids(s: DatumSet) -> list[str]:
    return [d.datum_id for d in s.datums]


def next_in_thread(s: SetStream) -> tuple[threading.Thread, list[object]]:
    got: list[object] = []

    def take() -> None:
        got.append(next(s, None))

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread, got


def test_sets_come_while_planning_from_published_datums_only() -> None:
    s = stream()
    todo = tasks(5)
    s.publish(todo, total=9)
    assert s.streaming  # 5 datums to do reached start_at (4)
    todo += tasks(3, start=5)  # planned but their rows are not recorded yet
    assert ids(next(s)) == ["d0", "d1", "d2"]  # at most ``early`` while planning
    assert ids(next(s)) == ["d3", "d4"]  # not d5-d7: not published
    thread, got = next_in_thread(s)
    thread.join(0.2)
    assert thread.is_alive()  # waits for the planner
    s.publish(todo, total=12)
    thread.join(5)
    assert [ids(g) for g in got if isinstance(g, DatumSet)] == [["d5", "d6", "d7"]]
    todo += tasks(4, start=8)
    s.finish(todo, total=14, done=2)
    assert [ids(x) for x in s] == [["d8", "d9"], ["d10", "d11"]]  # the rest, cut by sizes
    assert (s.total, s.done) == (14, 2)


def test_a_small_plan_is_not_streamed_and_comes_whole() -> None:
    s = stream(start_at=4)
    s.publish(tasks(3), total=3)
    assert not s.streaming
    s.finish(tasks(3), total=3, done=0)
    s.wait_ready()
    assert [ids(x) for x in s] == [["d0"], ["d1", "d2"]]


def test_never_streamed_without_start_at() -> None:
    s = stream(start_at=None)
    s.publish(tasks(100), total=100)
    assert not s.streaming


def test_cancel_releases_waiting_workers_and_stops_the_planner() -> None:
    s = stream()
    s.publish(tasks(4), total=4)
    assert [ids(next(s)), ids(next(s))] == [["d0", "d1", "d2"], ["d3"]]
    thread, got = next_in_thread(s)
    s.cancel()
    thread.join(5)
    assert not thread.is_alive() and got == [None]
    with pytest.raises(Cancelled):
        s.publish(tasks(8), total=8)


def test_a_failed_plan_ends_the_stream() -> None:
    s = stream()
    s.publish(tasks(4), total=4)
    assert [ids(next(s)), ids(next(s))] == [["d0", "d1", "d2"], ["d3"]]
    thread, got = next_in_thread(s)
    s.fail(OSError("disk gone"))
    thread.join(5)
    assert got == [None] and isinstance(s.error, OSError)
