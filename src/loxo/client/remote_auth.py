"""The auth verbs of ``RemoteClient``: activation, who am I, tokens, role bindings.

Only a server has auth; an embedded store is the user's own and has none.
"""

from __future__ import annotations

from loxo.client.http import Http
from loxo.model.auth import Role, RoleBinding, Whoami

_AUTH = "/auth"


class RemoteAuth:
    http: Http

    def use_token(self, token: str | None) -> None:
        """Send ``token`` with every request from now on (None: no token)."""
        if token:
            self.http.session.headers["Authorization"] = f"Bearer {token}"
        else:
            self.http.session.headers.pop("Authorization", None)

    def activate_auth(self) -> str:
        """Turn auth on; returns the root token (shown once) and uses it from now on."""
        token = str(self.http.call("POST", f"{_AUTH}/activate", dict[str, str])["token"])
        self.use_token(token)
        return token

    def deactivate_auth(self) -> None:
        """Turn auth off; every token and role is forgotten (clusterAdmin only)."""
        self.http.send("POST", f"{_AUTH}/deactivate")

    def whoami(self) -> Whoami:
        result: Whoami = self.http.call("GET", f"{_AUTH}/whoami", Whoami)
        return result

    def get_token(self, subject: str, ttl_seconds: float | None = None) -> str:
        """A new token for ``subject`` (``user:NAME`` or ``robot:NAME``; clusterAdmin only)."""
        body = {"subject": subject, "ttl_seconds": ttl_seconds}
        return str(self.http.call("POST", f"{_AUTH}/tokens", dict[str, str], json=body)["token"])

    def get_robot_token(self, name: str, ttl_seconds: float | None = None) -> str:
        return self.get_token(f"robot:{name}", ttl_seconds)

    def revoke_tokens(self, subject: str) -> int:
        """Every token of ``subject`` stops working; returns how many there were."""
        answer = self.http.call("POST", f"{_AUTH}/revoke", dict[str, int], json={"subject": subject})
        return int(answer["revoked"])

    def get_repo_roles(self, repo: str) -> list[RoleBinding]:
        return self.http.call("GET", f"{_AUTH}/repos/{repo}/roles", list[RoleBinding])

    def set_repo_role(self, repo: str, subject: str, role: Role | str | None) -> list[RoleBinding]:
        """``subject``'s role on ``repo`` becomes ``role`` (None or ``"none"`` removes it);
        returns the repo's bindings."""
        body = {"subject": subject, "role": str(role) if role else "none"}
        return self.http.call("PUT", f"{_AUTH}/repos/{repo}/roles", list[RoleBinding], json=body)

    def get_cluster_roles(self) -> list[RoleBinding]:
        return self.http.call("GET", f"{_AUTH}/cluster/roles", list[RoleBinding])

    def set_cluster_role(self, subject: str, role: Role | str | None) -> list[RoleBinding]:
        body = {"subject": subject, "role": str(role) if role else "none"}
        return self.http.call("PUT", f"{_AUTH}/cluster/roles", list[RoleBinding], json=body)
