"""Formatting: sizes and ages as pachctl prints them, JSON records, plain tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from loxo.cli.output import ago, human_duration, human_size, plain, print_raw, print_table
from loxo.model.refs import CommitInfo, FileInfo, FileKind, Origin


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0B"),
        (139, "139B"),
        (1023, "1023B"),
        (1024, "1KiB"),
        (4411, "4.308KiB"),  # the workshop's iris.csv in pachctl list-file
        (10207, "9.968KiB"),
        (int(1.2 * 1024 * 1024), "1.2MiB"),
        (12_345_678, "11.77MiB"),
        (3 * 1024**3, "3GiB"),
        (5 * 1024**4 + 1, "5TiB"),
    ],
)
def test_human_size_matches_pachctl(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "Less than a second"),
        (0.9, "Less than a second"),
        (-5, "Less than a second"),
        (1, "1 second"),
        (3, "3 seconds"),
        (59.9, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (59 * 60 + 59, "59 minutes"),
        (60 * 60, "About an hour"),
        (89 * 60, "About an hour"),
        (90 * 60, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (13 * 86400, "13 days"),
        (14 * 86400, "2 weeks"),
        (59 * 86400, "8 weeks"),
        (60 * 86400, "2 months"),
        (729 * 86400, "24 months"),
        (731 * 86400, "2 years"),
    ],
)
def test_human_duration_matches_docker_units(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_ago() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert ago(now - timedelta(seconds=3), now) == "3 seconds ago"
    assert ago(now - timedelta(hours=2), now) == "2 hours ago"
    assert ago(None, now) == "-"
    assert ago(datetime.now(UTC)).endswith(" ago")


def _commit(finished: datetime | None) -> CommitInfo:
    t = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    return CommitInfo("r", "a" * 32, "master", None, Origin.USER, "d", t, finished, 4, ("b",), ())


def test_plain_turns_records_into_json_data() -> None:
    data = plain([_commit(None), FileInfo("r", "c", "/a", FileKind.DIR, 0, "h")])
    assert data[0]["origin"] == "user"
    assert data[0]["started"] == "2024-05-01T12:00:00+00:00"
    assert data[0]["finished"] is None
    assert data[0]["children"] == ["b"]
    assert data[1]["kind"] == "dir"
    json.dumps(data)  # every value is JSON-ready


def test_print_raw(capsys: pytest.CaptureFixture[str]) -> None:
    print_raw(_commit(datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC)))
    record = json.loads(capsys.readouterr().out)
    assert record["finished"] == "2024-05-01T12:00:01+00:00"
    assert record["id"] == "a" * 32


def test_table_is_plain_and_never_cut(capsys: pytest.CaptureFixture[str]) -> None:
    long = "x" * 300
    print_table(["NAME", "DESCRIPTION"], [["[bold]a[/]", long], ["b", ""]])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "DESCRIPTION"]
    assert lines[1].split() == ["[bold]a[/]", long]  # markup printed as text, no wrapping
    assert lines[2] == "b"  # no trailing padding
    assert not any(ch in "".join(lines) for ch in "─│┃━")  # no box drawing


def test_table_on_a_narrow_terminal_keeps_ids_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich treats the output as a terminal
    monkeypatch.setenv("COLUMNS", "30")
    commit_id = "0123456789abcdef0123456789abcdef"
    print_table(["REPO", "COMMIT", "DESCRIPTION"], [["training", commit_id, "a long description"]])
    out = capsys.readouterr().out
    assert "\x1b[" in out  # styled, as on a terminal
    assert commit_id in out and "a long description" in out
