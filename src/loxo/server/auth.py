"""Who may do what: tokens and roles per repo (Pachyderm's repoReader / repoWriter /
repoOwner, and clusterAdmin). Off until ``loxo auth activate``: while auth is inactive
every request is allowed.

Routes declare what they need with ``need(Role.READER)`` (the repo comes from the path
parameter named ``repo_param``); handlers that learn a repo only from the body call
``authorize``. ``need(Role.READER, None)`` means "any caller with a valid token";
``need(Role.ADMIN, None)`` means clusterAdmin. A pipeline's routes check the role on its
output repo, which has the pipeline's name; a spec repo (``NAME.spec``) goes with it.

When active, a request without a valid token is ``Unauthenticated`` (401); a known
caller without the role is ``PermissionDenied`` (403). Both come before the handler
runs, so a denied request changes nothing. A repo that does not exist passes, so that
the handler says "not found" (as Pachyderm does).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from loxo.errors import PermissionDenied, Unauthenticated
from loxo.model.auth import Role, satisfies
from loxo.server.state import server_state
from loxo.server.tokens import AuthStore, pipeline_subject

__all__ = ["Role", "auth_store", "authorize", "caller", "need"]

_SPEC_SUFFIX = ".spec"  # repo names cannot hold a dot, so only spec repos end so
NO_TOKEN = ("auth is active and this request carries no token: log in with loxo auth login, "
            "or pass --token / LOXO_TOKEN")
BAD_TOKEN = ("the token is not valid (unknown, revoked or expired): log in again with "
             "loxo auth login, or pass another --token / LOXO_TOKEN")


def auth_store(request: Request) -> AuthStore:
    """The auth state of the server's store (one per server state, made on first use)."""
    state = server_state(request)
    cached: tuple[object, AuthStore] | None = getattr(request.app.state, "loxo_auth", None)
    if cached is None or cached[0] is not state:
        cached = (state, AuthStore(state.client.pfs.store.db))
        request.app.state.loxo_auth = cached
    return cached[1]


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def caller(request: Request) -> str | None:
    """The subject whose token the request carries; None while auth is inactive.

    Raises ``Unauthenticated`` when auth is active and the token is missing or unknown.
    Resolved once per request."""
    if hasattr(request.state, "loxo_subject"):
        known: str | None = request.state.loxo_subject
        return known
    store = auth_store(request)
    subject = None
    if store.is_active():
        token = _bearer(request)
        if token is None:
            raise Unauthenticated(NO_TOKEN)
        subject = store.subject_of(token)
        if subject is None:
            raise Unauthenticated(BAD_TOKEN)
    request.state.loxo_subject = subject
    return subject


def authorize(request: Request, role: Role, repo: str | None) -> None:
    """Raise unless the caller's token grants ``role`` on ``repo`` (or cluster-wide)."""
    subject = caller(request)
    if subject is None:
        return
    repo = repo.removesuffix(_SPEC_SUFFIX) if repo else None
    access = auth_store(request).access(subject, repo if role is not Role.ADMIN else None)
    if access.cluster is Role.ADMIN or (role is not Role.ADMIN and (
            repo is None or not access.repo_exists or satisfies(access.repo_role, role))):
        return
    doing = f"{subject} may not {request.method} {request.url.path}"
    if role is Role.ADMIN:
        raise PermissionDenied(f"{doing}: it needs clusterAdmin")
    held = access.repo_role.value if access.repo_role else "no role"
    raise PermissionDenied(f"{doing}: it needs {role.value} on repo {repo} and holds {held}; "
                           f"an owner of {repo} can grant it: loxo auth set repo {repo} "
                           f"{role.value} {subject}")


def need(role: Role, repo_param: str | None = "repo") -> Any:
    """A route dependency: the caller must hold ``role`` on the repo in ``repo_param``."""

    def check(request: Request) -> None:
        repo = request.path_params.get(repo_param) if repo_param else None
        authorize(request, role, repo)

    return Depends(check)


# -- hooks of the routes that create and delete ------------------------------------
def repo_created(request: Request, repo: str) -> None:
    """The creator of a repo owns it."""
    subject = caller(request)
    if subject is not None:
        auth_store(request).set_repo_role(repo, subject, Role.OWNER)


def pipeline_created(request: Request, pipeline: str) -> None:
    """The creator owns the output repo; the pipeline reads its inputs, writes its output."""
    if auth_store(request).is_active():
        auth_store(request).pipeline_created(pipeline, caller(request))


def pipeline_deleted(request: Request, pipeline: str) -> None:
    """A deleted pipeline's own subject keeps no role or token (its output repo's roles
    went with the repo)."""
    if auth_store(request).is_active():
        auth_store(request).forget_subject(pipeline_subject(pipeline))
