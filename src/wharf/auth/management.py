"""Managing projects, members, robot accounts, API tokens and users.

Every operation takes the acting principal and checks it here, so the HTTP layer stays a
translation. Projects the actor may not see are reported as unknown, never as forbidden.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from wharf import errors
from wharf.auth.principals import Principal, project_role_at_least
from wharf.auth.roles import Role
from wharf.auth.secrets import generate_secret, hash_secret, make_api_token
from wharf.errors import RegistryError
from wharf.metadata.iam_store import (
    AuditRow,
    IamStore,
    MemberRow,
    ProjectRow,
    RobotRow,
    TokenRow,
    UserRow,
)
from wharf.metadata.store import now
from wharf.oci.names import is_valid_name

T = TypeVar("T")
ROBOT_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    remote: str | None = None


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    project: ProjectRow
    repositories: int
    role: Role | None


@dataclass(frozen=True, slots=True)
class CreatedSecret(Generic[T]):
    """A row together with the cleartext secret, which is shown this once only."""

    row: T
    secret: str


def _denied(reason: str) -> RegistryError:
    return RegistryError(errors.DENIED, {"reason": reason})


def _unknown(kind: str, name: str) -> RegistryError:
    return RegistryError(errors.RESOURCE_UNKNOWN, {kind: name}, f"{kind} {name!r} not found")


def _invalid(reason: str) -> RegistryError:
    return RegistryError(errors.INVALID_REQUEST, {"reason": reason}, f"invalid request: {reason}")


def _role(text: str) -> Role:
    try:
        return Role.parse(text)
    except ValueError as exc:
        raise _invalid(str(exc)) from exc


class IamService:
    def __init__(self, store: IamStore, max_token_ttl: timedelta) -> None:
        self.store = store
        self.max_token_ttl = max_token_ttl

    def _audit(self, caller: Caller, action: str, target: str, **detail: object) -> None:
        self.store.record(action, "ok", caller.principal.name or "anonymous", caller.remote,
                          target=target, detail=json.dumps(detail) if detail else None)

    def _require_admin(self, caller: Caller) -> None:
        if not caller.principal.is_admin:
            raise _denied("requires a system administrator")

    def _visible_project(self, caller: Caller, name: str) -> ProjectRow:
        row = self.store.get_project(name)
        principal = caller.principal
        if row is None or not (row.public or principal.role_in(name) is not None):
            raise _unknown("project", name)
        return row

    def _project_for(self, caller: Caller, name: str, role: Role) -> ProjectRow:
        row = self._visible_project(caller, name)
        if not project_role_at_least(caller.principal, name, role):
            raise _denied(f"requires {role.label} in project {name}")
        return row

    # -- projects -----------------------------------------------------------------

    def create_project(self, caller: Caller, name: str, public: bool) -> ProjectRow:
        self._require_admin(caller)
        if "/" in name or not is_valid_name(name):
            raise _invalid("a project name is one lowercase path component, e.g. `acme`")
        row = self.store.create_project(name, public)
        if row is None:
            raise RegistryError(errors.CONFLICT, {"project": name},
                                f"project {name!r} already exists")
        self._audit(caller, "project.create", name, public=public)
        return row

    def list_projects(self, caller: Caller) -> list[ProjectInfo]:
        principal = caller.principal
        return [ProjectInfo(p, self.store.repository_count(p.id), principal.role_in(p.name))
                for p in self.store.list_projects()
                if p.public or principal.role_in(p.name) is not None]

    def get_project(self, caller: Caller, name: str) -> ProjectInfo:
        row = self._visible_project(caller, name)
        return ProjectInfo(row, self.store.repository_count(row.id),
                           caller.principal.role_in(name))

    def update_project(self, caller: Caller, name: str, public: bool) -> ProjectInfo:
        row = self._project_for(caller, name, Role.ADMIN)
        self.store.set_project_public(row.id, public)
        self._audit(caller, "project.update", name, public=public)
        return self.get_project(caller, name)

    def delete_project(self, caller: Caller, name: str, force: bool) -> None:
        row = self._project_for(caller, name, Role.ADMIN)
        count = self.store.repository_count(row.id)
        if count and not force:
            raise RegistryError(errors.CONFLICT, {"project": name, "repositories": count},
                                f"project {name!r} has {count} repositories; "
                                "delete them first or force")
        self.store.delete_project(row.id)
        self._audit(caller, "project.delete", name, repositories=count)

    # -- members ------------------------------------------------------------------

    def list_members(self, caller: Caller, project: str) -> list[MemberRow]:
        row = self._project_for(caller, project, Role.VIEWER)
        return self.store.list_members(row.id)

    def add_member(self, caller: Caller, project: str, username: str, role: str) -> MemberRow:
        row = self._project_for(caller, project, Role.ADMIN)
        user = self.store.get_user(username)
        if user is None:
            raise _unknown("user", username)
        self.store.set_member(row.id, user.id, _role(role).label)
        self._audit(caller, "member.add", f"{project}/{username}", role=_role(role).label)
        return next(m for m in self.store.list_members(row.id) if m.user_id == user.id)

    def remove_member(self, caller: Caller, project: str, username: str) -> None:
        row = self._project_for(caller, project, Role.ADMIN)
        user = self.store.get_user(username)
        if user is None or not self.store.remove_member(row.id, user.id):
            raise _unknown("member", username)
        self._audit(caller, "member.remove", f"{project}/{username}")

    # -- robot accounts -----------------------------------------------------------

    def create_robot(self, caller: Caller, project: str, name: str, role: str, *,
                     expires_at: datetime | None, description: str | None
                     ) -> CreatedSecret[RobotRow]:
        row = self._project_for(caller, project, Role.ADMIN)
        if not name or not set(name) <= ROBOT_NAME_CHARS or len(name) > 64:
            raise _invalid("a robot name is 1-64 of a-z, 0-9, '-', '_', '.'")
        if expires_at is not None and expires_at <= now():
            raise _invalid("expiry is in the past")
        secret = generate_secret()
        full = f"robot${project}+{name}"
        robot = self.store.create_robot(full, row.id, _role(role).label,
                                        secret_hash=hash_secret(secret),
                                        expires_at=expires_at, description=description)
        if robot is None:
            raise RegistryError(errors.CONFLICT, {"robot": full},
                                f"robot {full!r} already exists")
        self._audit(caller, "robot.create", full, role=robot.role)
        return CreatedSecret(robot, secret)

    def list_robots(self, caller: Caller, project: str) -> list[RobotRow]:
        row = self._project_for(caller, project, Role.ADMIN)
        return self.store.list_robots(row.id)

    def _robot(self, caller: Caller, project: str, name: str) -> RobotRow:
        self._project_for(caller, project, Role.ADMIN)
        full = name if name.startswith("robot$") else f"robot${project}+{name}"
        robot = self.store.get_robot(full)
        if robot is None or robot.project != project:
            raise _unknown("robot", full)
        return robot

    def set_robot_disabled(self, caller: Caller, project: str, name: str,
                           disabled: bool) -> RobotRow:
        robot = self._robot(caller, project, name)
        self.store.update_robot(robot.id, disabled=disabled)
        self._audit(caller, "robot.disable" if disabled else "robot.enable", robot.name)
        return self._robot(caller, project, name)

    def rotate_robot(self, caller: Caller, project: str, name: str,
                     expires_at: datetime | None = None) -> CreatedSecret[RobotRow]:
        robot = self._robot(caller, project, name)
        secret = generate_secret()
        values: dict[str, object] = {"secret_hash": hash_secret(secret)}
        if expires_at is not None:
            values["expires_at"] = expires_at
        self.store.update_robot(robot.id, **values)
        self._audit(caller, "robot.rotate", robot.name)
        return CreatedSecret(self._robot(caller, project, name), secret)

    def delete_robot(self, caller: Caller, project: str, name: str) -> None:
        robot = self._robot(caller, project, name)
        self.store.delete_robot(robot.id)
        self._audit(caller, "robot.delete", robot.name)

    # -- API tokens ---------------------------------------------------------------

    def _check_ttl(self, ttl: timedelta) -> None:
        if ttl <= timedelta(0):
            raise _invalid("ttl must be positive")
        if ttl > self.max_token_ttl:
            raise _invalid(f"ttl may be at most {self.max_token_ttl.days} days")

    def create_token(self, caller: Caller, project: str, role: str, ttl: timedelta,
                     description: str | None) -> CreatedSecret[TokenRow]:
        principal = caller.principal
        row = self._project_for(caller, project, Role.VIEWER)
        if principal.kind != "user" or principal.user_id is None:
            raise _denied("only users create API tokens")
        self._check_ttl(ttl)
        wanted = _role(role)
        if not project_role_at_least(principal, project, wanted):
            raise _denied(f"a token cannot have more than the creator's role ({wanted.label})")
        token_id, secret = uuid.uuid4().hex[:16], generate_secret()
        token = self.store.create_token(token_id, row.id, principal.user_id, wanted.label,
                                        secret_hash=hash_secret(secret),
                                        description=description,
                                        ttl_seconds=int(ttl.total_seconds()),
                                        expires_at=now() + ttl)
        self._audit(caller, "token.create", f"{project}/{token_id}", role=wanted.label,
                    ttl_seconds=int(ttl.total_seconds()))
        return CreatedSecret(token, make_api_token(token_id, secret))

    def list_tokens(self, caller: Caller, project: str) -> list[TokenRow]:
        row = self._project_for(caller, project, Role.VIEWER)
        principal = caller.principal
        if project_role_at_least(principal, project, Role.ADMIN):
            return self.store.list_tokens(row.id)
        if principal.user_id is None:
            return []
        return self.store.list_tokens(row.id, principal.user_id)

    def _own_token(self, caller: Caller, token_id: str) -> TokenRow:
        token = self.store.get_token(token_id)
        principal = caller.principal
        if token is None:
            raise _unknown("token", token_id)
        owner = principal.kind == "user" and token.user_id == principal.user_id
        if not owner and not project_role_at_least(principal, token.project, Role.ADMIN):
            raise _unknown("token", token_id)
        return token

    def revoke_token(self, caller: Caller, token_id: str) -> TokenRow:
        token = self._own_token(caller, token_id)
        if token.revoked_at is None:
            self.store.update_token(token.id, revoked_at=now())
        self._audit(caller, "token.revoke", f"{token.project}/{token.id}")
        return self._own_token(caller, token_id)

    def rotate_token(self, caller: Caller, token_id: str,
                     ttl: timedelta | None = None) -> CreatedSecret[TokenRow]:
        """A new secret and a fresh expiry for the same token; the old secret stops working."""
        token = self._own_token(caller, token_id)
        if token.revoked_at is not None:
            raise RegistryError(errors.CONFLICT, {"token": token_id}, "token is revoked")
        ttl = ttl or timedelta(seconds=token.ttl_seconds)
        self._check_ttl(ttl)
        secret = generate_secret()
        self.store.update_token(token.id, secret_hash=hash_secret(secret),
                                ttl_seconds=int(ttl.total_seconds()), expires_at=now() + ttl)
        self._audit(caller, "token.rotate", f"{token.project}/{token.id}")
        return CreatedSecret(self._own_token(caller, token_id), make_api_token(token.id, secret))

    # -- users --------------------------------------------------------------------

    def bootstrap_admin(self, password: str | None) -> str | None:
        """Create `admin` on first start; returns a generated password to show once."""
        if self.store.get_user("admin") is not None:
            return None
        generated = None if password else generate_secret(18)
        created = self.store.create_user("admin", hash_secret(password or generated or ""),
                                         is_admin=True)
        return generated if created is not None else None

    def create_user(self, caller: Caller, username: str, password: str,
                    admin: bool) -> UserRow:
        self._require_admin(caller)
        if not username or username.startswith("robot$") or username == "oidc" \
                or len(username) > 255 or ":" in username:
            raise _invalid("username must be non-empty, without ':', not `oidc` or robot$…")
        if len(password) < 8:
            raise _invalid("password must have at least 8 characters")
        row = self.store.create_user(username, hash_secret(password), admin)
        if row is None:
            raise RegistryError(errors.CONFLICT, {"user": username}, "user already exists")
        self._audit(caller, "user.create", username, admin=admin)
        return row

    def list_users(self, caller: Caller) -> list[UserRow]:
        self._require_admin(caller)
        return self.store.list_users()

    def set_user_disabled(self, caller: Caller, username: str, disabled: bool) -> UserRow:
        self._require_admin(caller)
        user = self.store.get_user(username)
        if user is None:
            raise _unknown("user", username)
        self.store.update_user(user.id, disabled=disabled)
        self._audit(caller, "user.disable" if disabled else "user.enable", username)
        updated = self.store.get_user(username)
        assert updated is not None
        return updated

    # -- audit --------------------------------------------------------------------

    def audit(self, caller: Caller, limit: int, before: int | None, actor: str | None,
              action: str | None) -> list[AuditRow]:
        self._require_admin(caller)
        return self.store.list_events(min(max(limit, 1), 1000), before, actor, action)
