"""Operating a server: ``/healthz``, ``/readyz``, ``/metrics`` (and the Grafana dashboard
built on it), and the JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

import loxo
from loxo.meta import schema
from loxo.meta.db import Database, bulk_insert, utcnow
from loxo.model.jobs import DatumState, JobState
from loxo.pps.spec import spec_from_dict
from loxo.server import ServerConfig, create_app, health
from loxo.server.logs import configure_logging
from loxo.server.store_metrics import BOUNDS, DatumTally, StoreCollector

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "loxo.json"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Served:
    app: FastAPI
    http: TestClient
    client: loxo.RemoteClient
    log: io.StringIO = field(default_factory=io.StringIO)

    def scrape(self) -> Samples:
        answer = self.http.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples
        }


@contextmanager
def serve(home: Path) -> Iterator[Served]:
    """The app on ``home`` with its controller, and a remote client through it."""
    app = create_app(ServerConfig(home=home))
    with TestClient(app, base_url="http://loxo.test", raise_server_exceptions=False) as http:
        yield Served(app, http, loxo.RemoteClient("http://loxo.test", session=http))


@contextmanager
def json_logs() -> Iterator[io.StringIO]:
    """The server's logging set up as ``loxo serve`` does, writing into a buffer."""
    root = logging.getLogger()
    level = root.level
    configure_logging(json_lines=True)
    mine = root.handlers[0]
    assert isinstance(mine, logging.StreamHandler)
    buffer = io.StringIO()
    mine.setStream(buffer)
    try:
        yield buffer
    finally:
        root.removeHandler(mine)
        root.setLevel(level)
        structlog.reset_defaults()


def pipeline(name: str, cmd: str, **extra: Any) -> loxo.PipelineSpec:
    return spec_from_dict({
        "pipeline": {"name": name},
        "transform": {"cmd": ["sh", "-c", cmd], **extra.pop("transform", {})},
        "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}},
        **extra,
    })


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server that ran: ``copy`` twice (2 processed; then 1 processed, 1 skipped),
    ``bad`` once (2 failed), ``mend`` once (2 failed, recovered by ``err_cmd``)."""
    home = tmp_path_factory.mktemp("ops") / "store"
    with json_logs() as log, serve(home) as served:
        served.log = log
        c = served.client
        c.create_repo("data")
        c.put_file("data@master:/a.txt", b"A")
        c.put_file("data@master:/b.txt", b"B")
        c.create_pipeline(pipeline("copy", "cp -r /pfs/in/. /pfs/out/"))
        c.put_file("data@master:/b.txt", b"B2")
        c.create_pipeline(pipeline("bad", "echo broken >&2; exit 3", datum_tries=1))
        c.create_pipeline(pipeline("mend", "exit 3", datum_tries=1,
                                   transform={"err_cmd": ["true"]}))
        c.inspect_pipeline("copy")
        yield served


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


# -- health --------------------------------------------------------------------------
def test_healthz_and_readyz_answer_ok(home: Path) -> None:
    with serve(home) as s:
        alive = s.http.get("/healthz")
        assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
        ready = s.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "objects": "ok"}}
        assert list((home / "objects").glob("health/*")) == []  # the probe cleans up


@pytest.mark.parametrize("damage", ["removed", "not a directory"])
def test_readyz_fails_when_the_object_store_directory_is_gone(home: Path, damage: str) -> None:
    with serve(home) as s:
        objects = home / "objects"
        objects.rename(home / "objects.away")
        if damage == "not a directory":
            objects.write_text("")
        answer = s.http.get("/readyz")
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        kind = "FileNotFoundError" if damage == "removed" else "NotADirectoryError"
        assert body["checks"]["objects"].startswith(f"{kind}: ")
        assert str(objects) in body["checks"]["objects"]
        assert s.http.get("/healthz").status_code == 200  # alive, just not ready


def test_readyz_fails_when_the_database_is_unreachable(home: Path) -> None:
    with serve(home) as s:
        db = s.app.state.loxo.client.pfs.store.db
        real = db.engine
        db.engine = create_engine(f"sqlite:///{home}/no/such/dir/loxo.db")
        try:
            answer = s.http.get("/readyz")
        finally:
            db.engine.dispose()
            db.engine = real
        assert answer.status_code == 503
        checks = answer.json()["checks"]
        assert checks["objects"] == "ok"
        assert checks["database"].startswith("metadata database ")
        assert "unable to open database file" in checks["database"]


def test_readyz_fails_when_the_sqlite_file_is_gone(home: Path) -> None:
    with serve(home) as s:
        (home / "loxo.db").rename(home / "loxo.db.away")
        try:
            answer = s.http.get("/readyz")
        finally:
            (home / "loxo.db.away").rename(home / "loxo.db")
        assert answer.status_code == 503
        assert answer.json()["checks"]["database"] == (
            f"FileNotFoundError: database file {home / 'loxo.db'} is missing")


def test_a_hung_backend_fails_readyz_in_time_with_one_stuck_thread(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    monkeypatch.setattr(health, "CHECK_TIMEOUT", 0.3)
    monkeypatch.setattr(health, "check_objects", lambda objects, key: release.wait(30))
    try:
        with serve(home) as s:
            for _ in range(3):
                started = time.monotonic()
                answer = s.http.get("/readyz")
                assert time.monotonic() - started < 2.0
                assert answer.status_code == 503
                assert answer.json()["checks"]["objects"].startswith("no answer after ")
            stuck = [t for t in threading.enumerate() if t.name == "loxo-readyz-objects"]
            assert len(stuck) == 1
            release.set()
            stuck[0].join(5)
            assert s.http.get("/readyz").status_code == 200
    finally:
        release.set()


# -- metrics -------------------------------------------------------------------------
def test_metrics_count_each_pipelines_datums_by_outcome(ran: Served) -> None:
    samples = ran.scrape()
    expected = {
        "copy": {"processed": 3, "skipped": 1, "failed": 0, "recovered": 0},
        "bad": {"processed": 0, "skipped": 0, "failed": 2, "recovered": 0},
        "mend": {"processed": 0, "skipped": 0, "failed": 0, "recovered": 2},
    }
    for name, outcomes in expected.items():
        for outcome, n in outcomes.items():
            assert value(samples, "loxo_datums_total", pipeline=name, outcome=outcome) == n
        ran_datums = sum(outcomes.values()) - outcomes["skipped"]
        for phase in ("download", "process", "upload"):
            count = value(samples, f"loxo_datum_{phase}_seconds_count", pipeline=name)
            assert count == ran_datums
            assert value(samples, f"loxo_datum_{phase}_seconds_bucket",
                         pipeline=name, le="+Inf") == ran_datums
    assert value(samples, "loxo_metrics_store_up") == 1
    again = ran.scrape()  # no new rows: nothing is counted twice
    assert value(again, "loxo_datums_total", pipeline="copy", outcome="processed") == 3


def test_metrics_show_jobs_by_state_and_repo_sizes(ran: Served) -> None:
    samples = ran.scrape()
    assert value(samples, "loxo_jobs", pipeline="copy", state="success") == 2
    assert value(samples, "loxo_jobs", pipeline="copy", state="running") == 0
    assert value(samples, "loxo_jobs", pipeline="bad", state="failure") == 1
    assert value(samples, "loxo_jobs", pipeline="mend", state="success") == 1
    assert value(samples, "loxo_repo_size_bytes", repo="data", kind="user") == 3  # A + B2
    assert value(samples, "loxo_repo_size_bytes", repo="copy", kind="output") == 3


def test_metrics_label_requests_by_route_template(ran: Served) -> None:
    samples = ran.scrape()
    routes = {dict(labels)["route"] for name, labels in samples if name == "loxo_http_requests_total"}
    assert "/v1/pipelines/{pipeline}" in routes
    assert "/v1/pipelines" in routes
    assert not [r for r in routes if "copy" in r or "data@" in r]  # never a raw path
    count = value(samples, "loxo_http_requests_total",
                  method="GET", route="/v1/pipelines/{pipeline}", status="200")
    assert count is not None and count >= 1
    assert value(samples, "loxo_http_request_duration_seconds_count",
                 method="GET", route="/v1/pipelines/{pipeline}") == count
    ran.http.get("/v1/nowhere/at/all")
    after = ran.scrape()
    assert value(after, "loxo_http_requests_total",
                 method="GET", route="unmatched", status="404") == 1


def test_a_request_that_raises_is_counted_as_a_500(ran: Served) -> None:
    def boom(thing: str) -> None:
        raise RuntimeError("a bug")

    ran.app.add_api_route("/test/boom/{thing}", boom)
    assert ran.http.get("/test/boom/x").status_code == 500
    assert value(ran.scrape(), "loxo_http_requests_total",
                 method="GET", route="/test/boom/{thing}", status="500") == 1


def test_every_app_has_its_own_registry(tmp_path: Path) -> None:
    first, second = (create_app(ServerConfig(home=tmp_path / n)) for n in ("a", "b"))
    assert first.state.metrics.registry is not second.state.metrics.registry


# -- the datum scan ------------------------------------------------------------------
def row(pk: int, state: DatumState, job_state: JobState = JobState.RUNNING,
        seconds: float = 0.5) -> tuple[Any, ...]:
    """A datum row as the scan reads it."""
    return (pk, state.value, seconds, seconds, seconds, job_state.value, "p")


def test_a_datum_is_counted_once_when_it_reaches_its_final_state() -> None:
    tally = DatumTally()
    tally.feed([row(1, DatumState.SKIPPED), row(2, DatumState.STARTING),
                row(3, DatumState.SUCCESS)])
    assert tally.next_pk == 2  # row 2 may still finish
    counts = tally.pipelines["p"].outcomes
    assert counts == {"processed": 1, "skipped": 1, "failed": 0, "recovered": 0}
    tally.feed([row(2, DatumState.FAILED), row(3, DatumState.SUCCESS)])
    assert tally.next_pk == 4
    assert counts == {"processed": 1, "skipped": 1, "failed": 1, "recovered": 0}
    process = tally.pipelines["p"].timings[1]
    assert process.counts[BOUNDS.index(0.5)] == 2  # le="0.5" holds 0.5: Prometheus' <=
    assert process.cumulative()[-1] == ("+Inf", 2.0)


def test_rows_a_finished_job_never_ran_do_not_hold_the_watermark() -> None:
    tally = DatumTally()
    tally.feed([row(7, DatumState.STARTING, JobState.KILLED), row(8, DatumState.SUCCESS)])
    assert tally.next_pk == 9
    assert tally.pipelines["p"].outcomes["processed"] == 1


def test_a_scrape_reads_20000_datum_rows_quickly(home: Path) -> None:
    db = Database(f"sqlite:///{home / 'loxo.db'}")
    try:
        _insert_job_with_datums(db, 20_000)
        collector = StoreCollector(lambda: db)
        started = time.perf_counter()
        first = list(collector.collect())
        cold = time.perf_counter() - started
        started = time.perf_counter()
        list(collector.collect())
        warm = time.perf_counter() - started
    finally:
        db.close()
    datums = next(f for f in first if f.name == "loxo_datums")
    counts = {s.labels["outcome"]: s.value for s in datums.samples}
    assert counts == {"processed": 15_000, "skipped": 5_000, "failed": 0, "recovered": 0}
    print(f"scrape with 20,000 new datum rows: {cold * 1000:.0f} ms; then {warm * 1000:.1f} ms")
    assert cold < 5.0 and warm < 0.5  # generous: the machine is shared


def _processed(families: list[Any]) -> float:
    datums = next(f for f in families if f.name == "loxo_datums")
    return float(sum(s.value for s in datums.samples if s.labels["outcome"] != "skipped"))


def test_a_long_history_is_caught_up_a_batch_a_scrape(home: Path) -> None:
    db = Database(f"sqlite:///{home / 'loxo.db'}")
    try:
        _insert_job_with_datums(db, 2_500)
        collector = StoreCollector(lambda: db, batch=1_000)
        seen = [_processed(list(collector.collect())) for _ in range(4)]
    finally:
        db.close()
    assert seen == [750, 1500, 1875, 1875]  # a quarter of the rows are skips


def test_an_unreadable_database_leaves_the_metrics_up_flag_at_zero(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/no/such/dir/loxo.db")
    families = {f.name: f for f in StoreCollector(lambda: db).collect()}
    assert families["loxo_metrics_store_up"].samples[0].value == 0
    assert "loxo_jobs" not in families


def _insert_job_with_datums(db: Database, n: int) -> None:
    now = utcnow()
    with db.write() as conn:
        pid = conn.execute(schema.pipelines.insert().values(
            name="bench", created_at=now, state="running", version=1, salt="s", spec="{}",
            spec_commit="c", input_repos="[]")).inserted_primary_key[0]  # type: ignore[index]
        job = conn.execute(schema.jobs.insert().values(
            pipeline_id=pid, id="j", version=1, spec_commit="c", salt="s", inputs="[]",
            state="success", reason="", created_at=now)).inserted_primary_key[0]  # type: ignore[index]
        bulk_insert(conn, schema.datums, [
            {"job_pk": job, "datum_id": f"d{i}", "hash": f"h{i}", "inputs": "[]",
             "state": "skipped" if i % 4 == 0 else "success", "output_tree": None,
             "output_size": 0, "error": "", "attempts": 1, "download_seconds": 0.001,
             "process_seconds": i / n, "upload_seconds": 0.002}
            for i in range(n)
        ])


# -- logs ----------------------------------------------------------------------------
def test_log_lines_are_json_with_job_datum_and_request_fields(ran: Served) -> None:
    lines = [json.loads(line) for line in ran.log.getvalue().splitlines()]
    assert lines and all({"event", "level", "timestamp"} <= line.keys() for line in lines)
    job = ran.client.list_job("bad")[0].id
    assert {"event": "job started", "pipeline": "bad", "job": job} in [
        {k: line.get(k) for k in ("event", "pipeline", "job")} for line in lines]
    finished = [ln for ln in lines if ln["event"] == "job finished" and ln["pipeline"] == "bad"]
    assert [(ln["job"], ln["state"], ln["level"]) for ln in finished] == [(job, "failure", "warning")]
    failed = [ln for ln in lines if ln["event"] == "datum failed"]
    datums = {d.id for d in ran.client.list_datum(f"bad@{job}")}
    assert {ln["datum"] for ln in failed} == datums and len(failed) == 2
    assert all(ln["pipeline"] == "bad" and ln["job"] == job and ln["error"] for ln in failed)
    assert {ln["logger"] for ln in finished + failed} == {"loxo.controller"}
    requests = [ln for ln in lines if ln["event"] == "request"]
    assert {ln["logger"] for ln in requests} == {"loxo.http"}
    assert {"method": "GET", "route": "/v1/pipelines/{pipeline}", "path": "/v1/pipelines/copy",
            "status": 200} in [{k: ln[k] for k in ("method", "route", "path", "status")}
                               for ln in requests]
    assert all(isinstance(ln["ms"], float) for ln in requests)


# -- the dashboard -------------------------------------------------------------------
def _exprs(dashboard: dict[str, Any]) -> list[str]:
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels and all(p.get("targets") for p in panels)
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    return exprs + [v["query"]["query"] for v in dashboard["templating"]["list"]
                    if v["type"] == "query"]


def test_the_dashboard_uses_only_metrics_the_server_exports(ran: Served) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39
    datasources = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert [(v["name"], v["query"]) for v in datasources] == [("DS_PROMETHEUS", "prometheus")]
    exported = {name for name, _ in ran.scrape()}
    used = {m for expr in _exprs(dashboard) for m in re.findall(r"\bloxo_[a-z0-9_]+", expr)}
    assert used and used <= exported, used - exported
    for family in ("loxo_http_requests_total", "loxo_datums_total", "loxo_jobs",
                   "loxo_repo_size_bytes", "loxo_datum_process_seconds_bucket",
                   "loxo_http_request_duration_seconds_bucket"):
        assert family in used


def test_readyz_body_names_the_failing_check_even_before_start() -> None:
    app = create_app(ServerConfig(home=Path(os.devnull)))
    answer = TestClient(app).get("/readyz")  # no lifespan: the store is not open yet
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "checks": {"server": "starting"}}
