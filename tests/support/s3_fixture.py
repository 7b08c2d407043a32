"""A real S3 server (SeaweedFS) for the tests, started once per session on first use."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.seaweed import S3Server, start_seaweed


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """``weed mini`` on free loopback ports, its credentials in ``os.environ`` (where obstore,
    and every subprocess a test starts, find them) and no other ``AWS_*`` setting, so a
    developer's own AWS configuration never leaks in."""
    server = start_seaweed(tmp_path_factory.mktemp("s3"))
    try:
        with pytest.MonkeyPatch.context() as env:
            for name in [n for n in os.environ if n.startswith("AWS_")]:
                env.delenv(name)
            for name, value in server.env.items():
                env.setenv(name, value)
            yield server
    finally:
        server.stop()
