"""Who is calling, and what they may do where (pure policy, no storage)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from wharf.auth.roles import ACTIONS, PUBLIC_ACTIONS, Role

Kind = Literal["anonymous", "user", "robot", "token", "oidc"]

_EMPTY: Mapping[str, Role] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller (or the anonymous one).

    `ref` names it durably (`user:3`, `robot:7`, `token:<id>`, `oidc:<issuer>|<sub>`), so a
    registry token or refresh token can be traced back and re-checked; `roles` are its
    project roles at the time it was authenticated.
    """

    kind: Kind
    name: str
    ref: str
    roles: Mapping[str, Role] = field(default_factory=lambda: _EMPTY)
    is_admin: bool = False
    user_id: int | None = None

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    def role_in(self, project: str) -> Role | None:
        if self.is_admin:
            return Role.ADMIN
        return self.roles.get(project)


ANONYMOUS = Principal("anonymous", "", "anonymous")


@dataclass(frozen=True, slots=True)
class ProjectFacts:
    """What policy needs to know of a project."""

    name: str
    public: bool


def allowed_actions(principal: Principal, project_name: str,
                    project: ProjectFacts | None) -> frozenset[str]:
    """The repository actions `principal` has in `project_name`.

    A system administrator may do everything even where the project does not exist, so
    that the registry itself reports what is missing; nobody else learns whether a
    project they have no role in exists.
    """
    if principal.is_admin:
        return frozenset(ACTIONS)
    if project is None:
        return frozenset()
    allowed: set[str] = set(PUBLIC_ACTIONS) if project.public else set()
    role = principal.roles.get(project_name)
    if role is not None:
        allowed |= role.actions
    return frozenset(allowed)


def project_role_at_least(principal: Principal, project: str, role: Role) -> bool:
    held = principal.role_in(project)
    return held is not None and held >= role
