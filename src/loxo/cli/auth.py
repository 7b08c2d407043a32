"""``loxo auth ...``: turn auth on, log in, tokens, and roles per repo (Pachyderm's).

Auth lives on a server, so every command here needs ``--address`` / ``LOXO_ADDRESS``.
The token comes from ``--token`` / ``LOXO_TOKEN``, else from what ``loxo auth login``
(or ``activate``) saved for that server in the config file (``loxo.cli.config``).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

import loxo
from loxo.cli import app
from loxo.cli.config import save_token, saved_token
from loxo.cli.output import Raw, print_line, print_raw, print_table, warn
from loxo.errors import InvalidArgument
from loxo.model.auth import RoleBinding, parse_role, parse_subject

group = typer.Typer(help="Tokens and roles on a loxo server (auth is off until activated).",
                    no_args_is_help=True, add_completion=False)
set_ = typer.Typer(help="Give a subject a role (or none).", no_args_is_help=True)
get = typer.Typer(help="Show who holds which role.", no_args_is_help=True)
group.add_typer(set_, name="set")
group.add_typer(get, name="get")

Subject = Annotated[str, typer.Argument(help="user:NAME, robot:NAME or pipeline:NAME (NAME alone: a user).")]
Ttl = Annotated[float | None, typer.Option("--ttl", metavar="SECONDS", help="Expire after this long.")]


def saved_login(address: str | None) -> str | None:
    """The token ``login`` saved for ``address`` (as written on the command line)."""
    return saved_token(app.server_url(address)) if address else None


def _state(ctx: typer.Context) -> app.State:
    state = ctx.find_root().obj
    if not isinstance(state, app.State) or not state.address:
        raise InvalidArgument("auth lives on a server: pass --address or set LOXO_ADDRESS "
                              "(a local store has no users or tokens)")
    return state


def _remote(ctx: typer.Context) -> loxo.RemoteClient:
    _state(ctx)
    remote = app.client(ctx)
    assert isinstance(remote, loxo.RemoteClient)
    return remote


@group.command()
def activate(ctx: typer.Context) -> None:
    """Turn auth on and print the root token (clusterAdmin): it is shown only this once.
    It is also saved as your login for this server."""
    remote = _remote(ctx)
    token = remote.activate_auth()
    path = save_token(remote.address, token)
    print_line(token)
    warn(f"auth is active; this is the root token (user:root, clusterAdmin), shown only once: "
         f"keep it safe. Saved as your login for {remote.address} in {path}")


@group.command()
def deactivate(ctx: typer.Context) -> None:
    """Turn auth off: every token and role is forgotten (clusterAdmin only)."""
    _remote(ctx).deactivate_auth()
    print_line("auth is off: every request is allowed, and every token and role is gone")


@group.command()
def whoami(ctx: typer.Context, raw: Raw = False) -> None:
    """Show who the server takes you for."""
    remote = _remote(ctx)
    me = remote.whoami()
    if raw:
        print_raw(me)
    elif not me.active:
        print_line(f"auth is not active on {remote.address}: every request is allowed")
    else:
        print_line(f"You are {me.subject}" + (" (clusterAdmin)" if me.cluster_admin else ""))


@group.command()
def login(
    ctx: typer.Context,
    token: Annotated[str | None, typer.Option(
        "--token", help="The token (default: read from stdin, or a prompt on a terminal).")] = None,
) -> None:
    """Check a token against the server and save it as your login for that server."""
    state = _state(ctx)
    address = app.server_url(state.address or "")
    token = token or _read_token()
    with loxo.RemoteClient(address, token) as remote:
        me = remote.whoami()
    if not me.active:
        raise InvalidArgument(f"auth is not active on {address}: there is nothing to log in to")
    path = save_token(address, token)
    print_line(f"logged in to {address} as {me.subject} (token saved in {path})")


def _read_token() -> str:
    on_terminal = sys.stdin.isatty()
    token = str(typer.prompt("Token", hide_input=True)) if on_terminal else sys.stdin.readline()
    if not token.strip():
        raise InvalidArgument("no token given: pass --token or type it in")
    return token.strip()


@group.command()
def logout(ctx: typer.Context) -> None:
    """Forget the token saved for this server."""
    address = app.server_url(_state(ctx).address or "")
    save_token(address, None)
    print_line(f"logged out of {address}")


@group.command("get-robot-token")
def get_robot_token(ctx: typer.Context, name: str, ttl: Ttl = None) -> None:
    """Print a new token for robot:NAME (clusterAdmin only)."""
    print_line(_remote(ctx).get_robot_token(name, ttl))


@group.command("get-token")
def get_token(ctx: typer.Context, subject: Subject, ttl: Ttl = None) -> None:
    """Print a new token for a user or robot (clusterAdmin only)."""
    print_line(_remote(ctx).get_token(parse_subject(subject), ttl))


@group.command()
def revoke(ctx: typer.Context, subject: Subject) -> None:
    """Make every token of a subject stop working (clusterAdmin only)."""
    count = _remote(ctx).revoke_tokens(parse_subject(subject))
    print_line(f"revoked {count} token(s) of {parse_subject(subject)}")


@set_.command("repo")
def set_repo(ctx: typer.Context, repo: str,
             role: Annotated[str, typer.Argument(help="repoReader, repoWriter, repoOwner or none.")],
             subject: Subject) -> None:
    """Give SUBJECT a ROLE on REPO (none removes it); needs repoOwner on REPO."""
    _print_bindings(_remote(ctx).set_repo_role(repo, parse_subject(subject), parse_role(role)), False)


@set_.command("cluster")
def set_cluster(ctx: typer.Context,
                role: Annotated[str, typer.Argument(help="clusterAdmin or none.")],
                subject: Subject) -> None:
    """Make SUBJECT a clusterAdmin (or, with none, no longer one)."""
    _print_bindings(_remote(ctx).set_cluster_role(parse_subject(subject), parse_role(role)), False)


@get.command("repo")
def get_repo(ctx: typer.Context, repo: str, raw: Raw = False) -> None:
    """Who holds which role on REPO."""
    _print_bindings(_remote(ctx).get_repo_roles(repo), raw)


@get.command("cluster")
def get_cluster(ctx: typer.Context, raw: Raw = False) -> None:
    """Who holds a cluster role."""
    _print_bindings(_remote(ctx).get_cluster_roles(), raw)


def _print_bindings(bindings: list[RoleBinding], raw: bool) -> None:
    if raw:
        print_raw(bindings)
        return
    print_table(["SUBJECT", "ROLE"], [[b.subject, b.role.value] for b in bindings])
