"""Cron inputs: the schedule as pure functions (fixed datetimes, no clock, no sleeping),
then ticks on the embedded store: run cron, overwrite, due ticks at an injected time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import loxo
from loxo.errors import InvalidArgument
from loxo.model.jobs import JobState
from loxo.pps.cron import check_spec, due_ticks, next_tick, parse_tick, tick_name


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- next_tick: every form ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        ("*/15 * * * *", "2026-11-22T00:59:59Z", "2026-11-22T01:00:00Z"),
        ("*/15 * * * *", "2026-11-22T01:00:00Z", "2026-11-22T01:15:00Z"),  # strictly after
        ("30 2 * * *", "2026-11-22T02:30:00.5Z", "2026-11-23T02:30:00Z"),
        ("0 0 1 JAN *", "2026-11-22T00:00:00Z", "2027-01-01T00:00:00Z"),  # names
        ("0 9 * * MON-FRI", "2026-11-21T12:00:00Z", "2026-11-23T09:00:00Z"),  # Sat -> Mon
        ("0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),  # next leap day
        ("0 0 13 * 5", "2026-11-07T00:00:00Z", "2026-11-13T00:00:00Z"),  # day-of-month OR Friday
        ("0 0 13 * 5", "2026-11-13T00:00:00Z", "2026-11-20T00:00:00Z"),
        ("0 0 ? * 0", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"),  # ? is *
        # 6 fields: seconds first, as robfig/cron
        ("*/20 * * * * *", "2026-11-22T00:00:41Z", "2026-11-22T00:01:00Z"),
        ("15 30 * * * *", "2026-11-22T00:30:15Z", "2026-11-22T01:30:15Z"),
        ("@yearly", "2026-11-22T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("@annually", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z"),
        ("@monthly", "2026-11-22T00:00:00Z", "2026-12-01T00:00:00Z"),
        ("@weekly", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"),  # Sundays
        ("@daily", "2026-11-22T23:59:59Z", "2026-11-23T00:00:00Z"),
        ("@midnight", "2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z"),
        ("@hourly", "2026-11-22T00:59:59.999Z", "2026-11-22T01:00:00Z"),
        # @every: from the previous tick cut to the second
        ("@every 1h", "2026-11-22T10:20:30Z", "2026-11-22T11:20:30Z"),
        ("@every 1h30m", "2026-11-22T10:20:30.75Z", "2026-11-22T11:50:30Z"),
        ("@every 90s", "2026-11-22T23:59:00Z", "2026-11-23T00:00:30Z"),
        ("@every 1500ms", "2026-11-22T00:00:00Z", "2026-11-22T00:00:01Z"),  # whole seconds
        ("@every 10ms", "2026-11-22T00:00:00Z", "2026-11-22T00:00:01Z"),  # at least one
    ],
)
def test_next_tick(spec: str, after: str, expected: str) -> None:
    assert next_tick(spec, at(after)) == at(expected)


def test_next_tick_reads_naive_as_utc_and_converts_other_zones() -> None:
    assert next_tick("@hourly", datetime(2026, 11, 22, 0, 10)) == at("2026-11-22T01:00:00Z")
    paris = timezone(timedelta(hours=1))
    after = datetime(2026, 11, 22, 9, 59, tzinfo=paris)  # 08:59 UTC
    assert next_tick("0 9 * * *", after) == at("2026-11-22T09:00:00Z")
    assert next_tick("0 9 * * *", after).tzinfo == UTC


@pytest.mark.parametrize(
    "spec", ["@fortnightly", "61 * * * *", "* * * * * * *", "* * *", "@every 0s", "@every soon", "0 0 31 2 *"]
)
def test_schedules_that_cannot_be_computed_are_refused(spec: str) -> None:
    with pytest.raises(InvalidArgument, match="cron spec"):
        check_spec(spec)


# -- due_ticks --------------------------------------------------------------------------
def test_no_tick_is_due_before_the_first_one() -> None:
    start = at("2026-11-22T10:20:00Z")
    assert due_ticks("@every 1h", start, None, at("2026-11-22T11:19:59Z")) == []
    assert due_ticks("@hourly", start, None, at("2026-11-22T10:59:59Z")) == []


def test_a_tick_is_due_at_its_very_second() -> None:
    start = at("2026-11-22T10:20:00Z")
    assert due_ticks("@every 1h", start, None, at("2026-11-22T11:20:00Z")) == [at("2026-11-22T11:20:00Z")]
    assert due_ticks("@hourly", start, None, at("2026-11-22T11:00:00Z")) == [at("2026-11-22T11:00:00Z")]


def test_start_means_no_tick_at_or_before_it() -> None:
    start = at("2026-11-22T11:00:00Z")  # itself a tick of @hourly
    assert due_ticks("@hourly", start, None, at("2026-11-22T11:30:00Z")) == []
    assert due_ticks("@hourly", start, None, at("2026-11-22T12:00:00Z")) == [at("2026-11-22T12:00:00Z")]


def test_the_schedule_runs_from_the_later_of_start_and_the_last_tick() -> None:
    start = at("2026-11-22T00:00:00Z")
    last = at("2026-11-22T10:20:30Z")  # a manual tick (run cron) moves @every's phase
    assert due_ticks("@every 1h", start, last, at("2026-11-22T11:20:29Z")) == []
    assert due_ticks("@every 1h", start, last, at("2026-11-22T11:20:30Z")) == [at("2026-11-22T11:20:30Z")]
    late_start = at("2026-11-23T00:00:00Z")  # a start after the last tick still holds
    assert due_ticks("@hourly", late_start, last, at("2026-11-22T23:00:00Z")) == []


def test_after_a_downtime_only_the_latest_ticks_are_due_keeping_the_phase() -> None:
    start = at("2026-11-22T10:20:00Z")
    later = at("2027-11-22T10:59:00Z")  # a year of hourly ticks missed
    assert due_ticks("@every 1h", start, None, later) == [at("2027-11-22T10:20:00Z")]
    assert due_ticks("@hourly", start, None, later) == [at("2027-11-22T10:00:00Z")]
    assert due_ticks("@every 1h", start, None, later, limit=3) == [
        at("2027-11-22T08:20:00Z"), at("2027-11-22T09:20:00Z"), at("2027-11-22T10:20:00Z"),
    ]
    assert due_ticks("*/30 * * * *", start, None, later, limit=2) == [
        at("2027-11-22T10:00:00Z"), at("2027-11-22T10:30:00Z"),
    ]
    # fewer due than the limit: all of them, oldest first
    assert due_ticks("@hourly", start, None, at("2026-11-22T12:00:00Z"), limit=5) == [
        at("2026-11-22T11:00:00Z"), at("2026-11-22T12:00:00Z"),
    ]


def test_due_ticks_of_every_descriptor_and_six_fields() -> None:
    start = at("2026-11-22T00:00:00Z")
    now = at("2027-03-15T12:34:56Z")
    assert due_ticks("@yearly", start, None, now) == [at("2027-01-01T00:00:00Z")]
    assert due_ticks("@monthly", start, None, now) == [at("2027-03-01T00:00:00Z")]
    assert due_ticks("@weekly", start, None, now) == [at("2027-03-14T00:00:00Z")]
    assert due_ticks("@daily", start, None, now) == [at("2027-03-15T00:00:00Z")]
    assert due_ticks("@hourly", start, None, now) == [at("2027-03-15T12:00:00Z")]
    assert due_ticks("*/10 * * * * *", start, None, now) == [at("2027-03-15T12:34:50Z")]


def test_nothing_to_count_from_or_no_room_means_no_ticks() -> None:
    now = at("2026-11-22T12:00:00Z")
    assert due_ticks("@hourly", None, None, now) == []
    assert due_ticks("@hourly", at("2026-11-22T00:00:00Z"), None, now, limit=0) == []
    assert due_ticks("@hourly", at("2026-11-23T00:00:00Z"), None, now) == []  # start ahead


def test_tick_names_are_rfc3339_utc_and_read_back() -> None:
    moment = datetime(2026, 11, 22, 2, 0, 0, 750_000, tzinfo=timezone(timedelta(hours=1)))
    assert tick_name(moment) == "/2026-11-22T01:00:00Z"
    assert parse_tick("/2026-11-22T01:00:00Z") == at("2026-11-22T01:00:00Z")
    assert parse_tick("2026-11-22T02:00:00+01:00") == at("2026-11-22T01:00:00Z")
    assert parse_tick("/notes.txt") is None


# -- ticks on the store -----------------------------------------------------------------
LIST_TICKS = ["sh", "-c", 'for f in /pfs/tick/*; do echo "$f" > "/pfs/out/$(basename "$f")"; done']


def cron_spec(tmp_path: Path, name: str = "stamp", **cron: Any) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({
        "pipeline": {"name": name},
        "transform": {"cmd": LIST_TICKS},
        "input": {"cron": {"name": "tick", "spec": "@every 1h", **cron}},
    }))
    return path


def files(client: loxo.Client, ref: str) -> list[str]:
    return [f.path for f in client.list_file(ref)]


def test_create_pipeline_makes_the_cron_repo_and_nothing_runs_before_a_tick(
    client: loxo.Client, tmp_path: Path
) -> None:
    client.create_pipeline(cron_spec(tmp_path))
    repo = client.inspect_repo("stamp_tick")
    assert repo.description == "cron ticks of pipeline stamp"
    assert "stamp_tick" in [r.name for r in client.list_repo()]
    assert client.list_job("stamp") == []
    client.update_pipeline(cron_spec(tmp_path))  # the repo is there already: kept
    assert client.list_commit("stamp_tick") == []


def test_run_cron_ticks_now_and_runs_the_job(client: loxo.Client, tmp_path: Path) -> None:
    client.create_pipeline(cron_spec(tmp_path))
    commit = client.run_cron("stamp", now=at("2026-11-22T01:00:00.25Z"))
    assert (commit.repo, commit.branch) == ("stamp_tick", "master")
    assert files(client, "stamp_tick@master") == ["/2026-11-22T01:00:00Z"]
    assert client.get_file("stamp_tick@master:/2026-11-22T01:00:00Z") == b""
    [job] = client.list_job("stamp")
    assert (job.id, job.state) == (commit.id, JobState.SUCCESS)
    seen = client.get_file("stamp@master:/2026-11-22T01:00:00Z")
    assert seen == b"/pfs/tick/2026-11-22T01:00:00Z\n"  # the datum saw /pfs/<name>/<tick>

    again = client.run_cron("stamp", now=at("2026-11-22T01:00:00.75Z"))  # the same second
    assert again.id == commit.id
    assert len(client.list_commit("stamp_tick")) == 1 and len(client.list_job("stamp")) == 1


def test_ticks_accumulate_and_old_ones_are_skipped(client: loxo.Client, tmp_path: Path) -> None:
    client.create_pipeline(cron_spec(tmp_path))
    client.run_cron("stamp", now=at("2026-11-22T01:00:00Z"))
    client.run_cron("stamp", now=at("2026-11-22T02:00:00Z"))
    assert files(client, "stamp_tick@master") == ["/2026-11-22T01:00:00Z", "/2026-11-22T02:00:00Z"]
    job = client.list_job("stamp")[0]
    assert (job.data_processed, job.data_skipped, job.data_total) == (1, 1, 2)
    assert files(client, "stamp@master") == ["/2026-11-22T01:00:00Z", "/2026-11-22T02:00:00Z"]


def test_overwrite_leaves_only_the_latest_tick_in_one_commit(client: loxo.Client, tmp_path: Path) -> None:
    client.create_pipeline(cron_spec(tmp_path, overwrite=True))
    client.run_cron("stamp", now=at("2026-11-22T01:00:00Z"))
    client.run_cron("stamp", now=at("2026-11-22T02:00:00Z"))
    assert files(client, "stamp_tick@master") == ["/2026-11-22T02:00:00Z"]
    assert len(client.list_commit("stamp_tick")) == 2  # one commit per tick: delete + put together
    assert files(client, "stamp@master") == ["/2026-11-22T02:00:00Z"]  # outputs follow the datums


def test_run_pending_makes_the_due_tick_when_the_clock_passed(client: loxo.Client, tmp_path: Path) -> None:
    client.create_pipeline(cron_spec(tmp_path))
    created = client.inspect_pipeline("stamp").created.replace(microsecond=0)
    client.run_pending(now=created + timedelta(minutes=59))
    assert client.list_commit("stamp_tick") == []

    ran = client.run_pending(now=created + timedelta(hours=1))
    first = tick_name(created + timedelta(hours=1))
    assert files(client, "stamp_tick@master") == [first]
    assert [(p, s) for p, _, s in ran] == [("stamp", JobState.SUCCESS)]

    client.run_pending(now=created + timedelta(hours=100, minutes=30))  # a long downtime
    latest = tick_name(created + timedelta(hours=100))
    assert files(client, "stamp_tick@master") == [first, latest]  # only the latest, phase kept
    assert len(client.list_job("stamp")) == 2


def test_start_and_a_cron_expression(client: loxo.Client, tmp_path: Path) -> None:
    client.create_pipeline(cron_spec(tmp_path, spec="0 * * * *", start="2100-01-01T00:00:00Z"))
    client.run_pending(now=at("2100-01-01T00:59:59Z"))
    assert client.list_commit("stamp_tick") == []
    client.run_pending(now=at("2100-01-01T01:00:00Z"))
    assert files(client, "stamp_tick@master") == ["/2100-01-01T01:00:00Z"]
    client.run_pending(now=at("2100-01-01T01:00:00Z"))  # the same tick twice: no second commit
    assert len(client.list_commit("stamp_tick")) == 1


def test_a_stopped_pipeline_does_not_tick_and_catches_up_once_started(
    client: loxo.Client, tmp_path: Path
) -> None:
    client.create_pipeline(cron_spec(tmp_path, spec="@hourly", start="2100-01-01T00:00:00Z"))
    client.stop_pipeline("stamp")
    client.run_pending(now=at("2100-01-01T05:30:00Z"))
    assert client.list_commit("stamp_tick") == []
    client.start_pipeline("stamp")
    client.run_pending(now=at("2100-01-01T05:30:00Z"))
    assert files(client, "stamp_tick@master") == ["/2100-01-01T05:00:00Z"]


def test_run_cron_needs_a_cron_input(client: loxo.Client, tmp_path: Path) -> None:
    client.create_repo("data")
    path = tmp_path / "copy.json"
    path.write_text(json.dumps({"pipeline": {"name": "copy"}, "transform": {"cmd": ["true"]},
                                "input": {"pfs": {"repo": "data", "glob": "/*"}}}))
    client.create_pipeline(path)
    with pytest.raises(InvalidArgument, match="no cron input"):
        client.run_cron("copy")


def test_a_schedule_that_cannot_be_computed_fails_creation(client: loxo.Client, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="cron spec"):
        client.create_pipeline(cron_spec(tmp_path, spec="61 * * * *"))
    assert [r.name for r in client.list_repo()] == []


def test_a_cron_input_cannot_tick_into_a_pipeline_output(client: loxo.Client, tmp_path: Path) -> None:
    client.create_pipeline(cron_spec(tmp_path))
    with pytest.raises(InvalidArgument, match="output repo"):
        client.create_pipeline(cron_spec(tmp_path, name="other", repo="stamp"))


def test_delete_pipeline_deletes_its_cron_repo_unless_another_pipeline_reads_it(
    client: loxo.Client, tmp_path: Path
) -> None:
    client.create_pipeline(cron_spec(tmp_path))
    client.delete_pipeline("stamp")
    assert [r.name for r in client.list_repo()] == []

    client.create_pipeline(cron_spec(tmp_path, repo="shared_tick"))
    client.create_pipeline(cron_spec(tmp_path, name="other", repo="shared_tick"))
    client.delete_pipeline("stamp")
    assert "shared_tick" in [r.name for r in client.list_repo()]
