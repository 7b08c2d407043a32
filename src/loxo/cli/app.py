"""The command tree: one Typer group per verb (``create``, ``list`` ...), nouns inside.

Noun modules (``repo``, ``branch``, ``commit``, ``file``, ``pipeline``, ``job``) add
their commands to these groups, so ``loxo create repo`` and ``loxo create pipeline``
live side by side as in pachctl. Every command opens the store through
``client(ctx)``, which ``main`` set up from ``--home`` / ``LOXO_HOME`` and
``--no-sandbox`` / ``LOXO_SANDBOX``. Writes that trigger pipelines run their jobs in
the foreground, with a progress bar per job (``wait=False``: create the work only).
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

import loxo
from loxo.cli.progress import JobBars
from loxo.errors import InvalidArgument


@dataclass(frozen=True)
class State:
    """What the global options chose, kept on the root context."""

    home: str
    sandbox: bool = True
    address: str | None = None  # a server: every command goes there instead of ``home``
    token: str | None = None
    executor: str | None = None  # what runs datums of a local store: local, ray, dask ...


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False)


create = _group("Create a repo, a branch or a pipeline.")
list_ = _group("List repos, branches, commits, files, pipelines, jobs or datums.")
inspect = _group("Show one repo, branch, commit, file, pipeline, job or datum in detail.")
update = _group("Change a repo's description or a pipeline's spec.")
delete = _group("Delete a repo, branch, commit, file or pipeline.")
start = _group("Start (open) a commit, or restart a stopped pipeline.")
stop = _group("Pause a pipeline, or kill a job.")
finish = _group("Finish an open commit.")
wait = _group("Wait until a commit or a job is finished.")
squash = _group("Fold a commit into its children.")
put = _group("Put files into a repo.")
get = _group("Get files out of a repo.")
glob = _group("Show what a glob pattern matches.")
diff = _group("Show how two file trees differ.")
copy = _group("Copy files inside loxo (no data is copied).")
walk = _group("List every file and directory below a path.")
validate = _group("Check a pipeline spec without creating anything.")
draw = _group("Draw the graph of repos and pipelines.")
run = _group("Tick a pipeline's cron inputs now.")

VERBS: dict[str, typer.Typer] = {
    "create": create,
    "list": list_,
    "inspect": inspect,
    "update": update,
    "delete": delete,
    "start": start,
    "stop": stop,
    "finish": finish,
    "wait": wait,
    "squash": squash,
    "put": put,
    "get": get,
    "glob": glob,
    "diff": diff,
    "copy": copy,
    "walk": walk,
    "validate": validate,
    "draw": draw,
    "run": run,
}


def server_url(address: str) -> str:
    """``host:port`` or a URL, as pachctl users write ``PACHD_ADDRESS``, as an http URL."""
    if "://" not in address:
        return f"http://{address}"
    scheme = address.split("://", 1)[0]
    if scheme not in ("http", "https"):
        raise InvalidArgument(f"address {address!r}: loxo servers speak http or https, not {scheme}")
    return address


def client(ctx: typer.Context, *, wait: bool = True) -> loxo.ClientBase:
    """The store chosen by the global options (a server with ``--address``), closed when
    the command ends.

    Jobs that the command's writes trigger run before it returns, drawn as progress
    bars on a terminal; a job that does not succeed is one ``warning:`` line on stderr.
    ``wait=False`` (``--no-wait``) only records the change: its jobs run at the next
    command that waits.
    """
    state = ctx.find_root().obj
    if not isinstance(state, State):  # a command invoked without the root group
        state = State(".loxo")
    if state.address:
        remote = loxo.RemoteClient(server_url(state.address), state.token, auto_run=wait)
        return ctx.with_resource(remote)
    opened = ctx.with_resource(
        loxo.Client(state.home, auto_run=wait, sandbox=state.sandbox, executor=state.executor))
    if wait:
        opened.on_job = ctx.with_resource(JobBars(opened, quiet_sandbox=not state.sandbox)).started
    return opened
