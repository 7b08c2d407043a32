"""Entry point of ``loxo``: global options, the 1.x aliases, and the one error mapping.

Every ``LoxoError`` becomes one line ``error: <message>`` on stderr and exit code 1;
usage errors stay Click's (exit 2); Ctrl-C is one line and exit code 130.
"""

from __future__ import annotations

import errno
import sys
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from loxo.cli import (
    admin,
    app,
    auth,
    branch,
    commit,
    datum,
    deploy,
    file,
    job,
    logs,
    pipeline,
    repo,
    serve,
    transfer,
)
from loxo.cli.legacy import translate
from loxo.cli.output import warn
from loxo.errors import LoxoError

_NOUN_MODULES = (branch, commit, datum, file, job, pipeline, repo, transfer)  # for their commands
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    warn(one_line(message))
    raise typer.Exit(code)


def one_line(message: str) -> str:
    """A message folded onto one line, so every failure is exactly one line on stderr."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


class LoxoGroup(TyperGroup):
    """The root group: rewrites pachctl 1.x commands, and maps errors once."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        return super().parse_args(ctx, translate(args))

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except LoxoError as exc:
            _fail(f"error: {exc.message}")
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_INTERRUPTED)
        except OSError as exc:  # local files: unreadable, unwritable, disk full ...
            if exc.errno == errno.EPIPE:
                raise
            where = f": {exc.filename}" if exc.filename else ""
            _fail(f"error: {exc.strerror or exc}{where}")


root = typer.Typer(
    cls=LoxoGroup,
    name="loxo",
    help="Version-controlled data, in Pachyderm's words. "
    "pachctl 1.x forms (create-repo, put-file repo branch path ...) work too.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@root.callback()
def global_options(
    ctx: typer.Context,
    home: Annotated[
        str,
        typer.Option("--home", envvar="LOXO_HOME", metavar="PATH", help="The store to use."),
    ] = ".loxo",
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox/--no-sandbox", envvar="LOXO_SANDBOX",
            help="Run user code in a bubblewrap sandbox (LOXO_SANDBOX=0: without).",
        ),
    ] = True,
    address: Annotated[
        str | None,
        typer.Option(
            "--address", envvar=["LOXO_ADDRESS", "PACHD_ADDRESS", "ADDRESS"], metavar="URL",
            help="A loxo server (http://host:port) to use instead of a local store.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="LOXO_TOKEN", help="Auth token for the server."),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor", envvar="LOXO_EXECUTOR", metavar="NAME",
            help="What runs datums: local (default), ray, dask (a cluster of this machine's "
            "cores), ray://host:port, dask://host:port or tcp://host:port (join a cluster).",
        ),
    ] = None,
) -> None:
    """Version-controlled data, in Pachyderm's words."""
    ctx.obj = app.State(
        home, sandbox, address or None, executor=executor or None,
        token=token or auth.saved_login(address))


for _verb, _group in app.VERBS.items():
    root.add_typer(_group, name=_verb)
root.command("logs")(logs.logs)
root.command("fsck")(admin.fsck)
root.command("version")(admin.version)
root.command("serve")(serve.serve)
root.command("deploy")(deploy.deploy)
root.add_typer(auth.group, name="auth")


def main() -> None:
    """The ``loxo`` console script."""
    try:
        root(prog_name="loxo")
    except KeyboardInterrupt:  # outside a command: while starting up or parsing
        warn("interrupted")
        sys.exit(EXIT_INTERRUPTED)
