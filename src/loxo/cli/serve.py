"""``loxo serve``: the API, the job controller and the health checks, in one process.

With no flags it serves the embedded default (``--home``: SQLite and local objects), so
one command starts a server; ``--db`` and ``--storage`` move the metadata to PostgreSQL
and the objects to an S3-compatible store (endpoint and credentials from the usual AWS
variables, or the URL's ``endpoint`` parameter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loxo.cli.output import warn


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="LOXO_PORT", help="Port to listen on.")] = 8080,
    db: Annotated[
        str | None,
        typer.Option(envvar="LOXO_DB", metavar="URL",
                     help="Metadata database, e.g. postgresql://user@host/loxo (default: SQLite in --home)."),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(envvar="LOXO_STORAGE", metavar="URL",
                     help="Object store, e.g. s3://bucket/prefix (default: --home/objects)."),
    ] = None,
    json_logs: Annotated[
        bool, typer.Option("--json-logs/--plain-logs", help="Log lines as JSON (default) or text."),
    ] = True,
    executor: Annotated[
        str | None,
        typer.Option(envvar="LOXO_EXECUTOR", metavar="NAME",
                     help="What runs datums: local (default), ray, dask, ray://host:port, "
                     "dask://host:port (as the global --executor)."),
    ] = None,
) -> None:
    """Serve the HTTP API and run pipelines' jobs (Ctrl-C stops it)."""
    import uvicorn

    from loxo.cli.app import State
    from loxo.server import ServerConfig, create_app
    from loxo.server.logs import configure_logging

    state = ctx.find_root().obj
    home = Path(state.home if isinstance(state, State) else ".loxo")
    sandbox = state.sandbox if isinstance(state, State) else True
    executor = executor or (state.executor if isinstance(state, State) else None)
    configure_logging(json_logs)
    config = ServerConfig(home=home, db=db, storage=storage, sandbox=sandbox,
                          executor=executor)
    app = create_app(config)
    on = f", datums on {executor}" if executor else ""
    warn(f"loxo serving {db or home} on http://{host}:{port}{on}")
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False,
                timeout_graceful_shutdown=5)
