"""``/v1/auth`` routes: activate and deactivate auth, who am I, tokens, role bindings.

``activate`` is the one route anyone may call, and only while auth is inactive (as
with pachctl): it answers with the root token, once. Everything else that changes auth
state needs auth to be active.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from loxo.errors import Conflict, InvalidArgument
from loxo.model.auth import Role, RoleBinding, Whoami, parse_role, parse_subject
from loxo.server.auth import auth_store, caller, need
from loxo.server.errors import ERROR_SCHEMA
from loxo.server.tokens import AuthStore

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses={
    **ERROR_SCHEMA, 401: {"description": "no valid token"},
    403: {"description": "the caller lacks the role"}})
ANYONE, ADMIN = need(Role.READER, None), need(Role.ADMIN, None)
READ, OWN = need(Role.READER), need(Role.OWNER)
INACTIVE = "auth is not active: turn it on with loxo auth activate"
MAX_TTL = 10 * 365 * 24 * 3600.0


class Token(BaseModel):
    token: str


class TokenCreate(BaseModel):
    subject: str  # user:NAME or robot:NAME (a bare NAME is a user)
    # none: it never expires; at most ten years (a bigger one overflows a timestamp)
    ttl_seconds: float | None = Field(default=None, gt=0, le=MAX_TTL)


class Revoke(BaseModel):
    subject: str


class Revoked(BaseModel):
    revoked: int  # how many tokens


class RoleSet(BaseModel):
    subject: str
    role: str  # repoReader, repoWriter, repoOwner (or clusterAdmin on the cluster); none removes


def _active(request: Request) -> AuthStore:
    store = auth_store(request)
    if not store.is_active():
        raise Conflict(INACTIVE)
    return store


@router.post("/activate")
def activate(request: Request) -> Token:
    """Turn auth on. The answer is the root token (``user:root``, clusterAdmin): keep it,
    it is shown only this once."""
    return Token(token=auth_store(request).activate())


@router.post("/deactivate", status_code=204, dependencies=[ADMIN])
def deactivate(request: Request) -> None:
    """Turn auth off, forgetting every token and role."""
    _active(request).deactivate()


@router.get("/whoami", dependencies=[ANYONE])
def whoami(request: Request) -> Whoami:
    subject = caller(request)
    if subject is None:
        return Whoami(active=False)
    admin = auth_store(request).access(subject, None).cluster is Role.ADMIN
    return Whoami(active=True, subject=subject, cluster_admin=admin)


@router.post("/tokens", status_code=201, dependencies=[ADMIN])
def create_token(request: Request, body: TokenCreate) -> Token:
    """A new token for a user or a robot (``get-robot-token``)."""
    ttl = timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else None
    return Token(token=_active(request).issue(parse_subject(body.subject), ttl))


@router.post("/revoke", dependencies=[ADMIN])
def revoke(request: Request, body: Revoke) -> Revoked:
    """Every token of a subject stops working."""
    return Revoked(revoked=_active(request).revoke(parse_subject(body.subject)))


@router.get("/repos/{repo}/roles", dependencies=[READ])
def get_repo_roles(request: Request, repo: str) -> list[RoleBinding]:
    return auth_store(request).repo_roles(repo)


@router.put("/repos/{repo}/roles", dependencies=[OWN])
def set_repo_role(request: Request, repo: str, body: RoleSet) -> list[RoleBinding]:
    """``subject``'s role on ``repo`` becomes ``role``; ``none`` removes it."""
    role = parse_role(body.role)
    if role is Role.ADMIN:
        raise InvalidArgument("clusterAdmin is a cluster role: loxo auth set cluster clusterAdmin SUBJECT")
    store = _active(request)
    store.set_repo_role(repo, parse_subject(body.subject), role)
    return store.repo_roles(repo)


@router.get("/cluster/roles", dependencies=[ADMIN])
def get_cluster_roles(request: Request) -> list[RoleBinding]:
    return auth_store(request).cluster_roles()


@router.put("/cluster/roles", dependencies=[ADMIN])
def set_cluster_role(request: Request, body: RoleSet) -> list[RoleBinding]:
    """Make ``subject`` a clusterAdmin, or (``none``) no longer one."""
    role = parse_role(body.role)
    if role not in (Role.ADMIN, None):
        raise InvalidArgument(f"{role} is a repo role: loxo auth set repo REPO {role} SUBJECT")
    store = _active(request)
    store.set_cluster_role(parse_subject(body.subject), role)
    return store.cluster_roles()
