"""What a server is started with. Filled from flags and environment by ``loxo serve``;
nothing below reads the environment itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerConfig:
    """``home`` holds the embedded default (SQLite + objects); ``db`` and ``storage``
    (URLs) move the metadata and the objects elsewhere, e.g. PostgreSQL and S3."""

    home: Path
    db: str | None = None
    storage: str | None = None
    sandbox: bool = True
    scratch: Path | None = None
    executor: str | None = None  # local (default), ray, dask, ray://host:port, dask://host:port
    cron_interval: float = 1.0  # how often the controller looks for due cron ticks
