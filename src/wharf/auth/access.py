"""Authorization decisions against stored projects: what a principal may do to a
repository, which scopes a token may carry, which projects a caller may see."""

from __future__ import annotations

from wharf.auth.principals import Principal, ProjectFacts, allowed_actions
from wharf.auth.roles import VIEW
from wharf.auth.scopes import CATALOG, REGISTRY, REPOSITORY, Scope, intersect
from wharf.metadata.iam_store import IamStore
from wharf.oci.names import is_valid_name, project_of


class AccessPolicy:
    def __init__(self, store: IamStore) -> None:
        self.store = store

    def project(self, name: str) -> ProjectFacts | None:
        row = self.store.get_project(name)
        return None if row is None else ProjectFacts(row.name, row.public)

    def repository_actions(self, principal: Principal, repository: str) -> frozenset[str]:
        project = project_of(repository)
        if principal.is_admin:
            return allowed_actions(principal, project, None)
        return allowed_actions(principal, project, self.project(project))

    def may(self, principal: Principal, repository: str, action: str) -> bool:
        return action in self.repository_actions(principal, repository)

    def grant(self, principal: Principal, requested: list[Scope]) -> list[Scope]:
        """The access a registry token carries: what was asked, cut down to what is
        allowed. Scopes of unknown types and invalid names are dropped."""
        granted: list[Scope] = []
        for scope in requested:
            if scope.type == REPOSITORY and is_valid_name(scope.name):
                allowed = self.repository_actions(principal, scope.name)
            elif scope.type == REGISTRY and scope.name == CATALOG:
                # Everyone may ask for the catalog; it lists only what they may see.
                allowed = frozenset({"*"})
            else:
                continue
            result = intersect(scope, allowed)
            if result is not None:
                granted.append(result)
        return granted

    def visible_projects(self, principal: Principal) -> set[str] | None:
        """Projects whose repositories the principal may list; None means all."""
        if principal.is_admin:
            return None
        visible = {p.name for p in self.store.list_projects() if p.public}
        visible |= {p for p, role in principal.roles.items() if VIEW in role.actions}
        return visible
