"""Queries for identity and access: projects, users, members, robots, API tokens,
signing keys, OIDC issuers and mappings, and the audit log.

Portable SQLAlchemy Core only (SQLite and PostgreSQL). Rows come back as frozen
dataclasses; the domain (`wharf.auth`) decides what they mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from wharf.metadata import schema as s
from wharf.metadata.base import StoreBase
from wharf.metadata.store import now


@dataclass(frozen=True, slots=True)
class ProjectRow:
    id: int
    name: str
    public: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    password_hash: str
    is_admin: bool
    disabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MemberRow:
    project: str
    user_id: int
    username: str
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RobotRow:
    id: int
    name: str
    project: str
    role: str
    secret_hash: str
    disabled: bool
    expires_at: datetime | None
    description: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: str
    project: str
    user_id: int | None
    username: str | None
    role: str
    secret_hash: str
    description: str | None
    ttl_seconds: int
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class KeyRow:
    kid: str
    algorithm: str
    private_pem: str
    public_jwk: str
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuerRow:
    id: int
    name: str
    issuer: str
    audience: str | None
    jwks: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MappingRow:
    id: int
    issuer: str
    subject: str | None
    namespace: str | None
    service_account: str | None
    project: str
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    action: str
    outcome: str
    actor: str | None
    remote: str | None
    target: str | None
    detail: str | None


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=now().tzinfo)


def _row(cls: Any, row: Any) -> Any:
    values = {k: _utc(v) if isinstance(v, datetime) else v for k, v in row._mapping.items()}
    return cls(**values)


_ROBOT_COLUMNS = (s.robots.c.id, s.robots.c.name, s.projects.c.name.label("project"),
                  s.robots.c.role, s.robots.c.secret_hash, s.robots.c.disabled,
                  s.robots.c.expires_at, s.robots.c.description, s.robots.c.created_at)
_TOKEN_COLUMNS = (s.api_tokens.c.id, s.projects.c.name.label("project"), s.api_tokens.c.user_id,
                  s.users.c.username, s.api_tokens.c.role, s.api_tokens.c.secret_hash,
                  s.api_tokens.c.description, s.api_tokens.c.ttl_seconds,
                  s.api_tokens.c.expires_at, s.api_tokens.c.revoked_at,
                  s.api_tokens.c.created_at)
_MAPPING_COLUMNS = (s.oidc_mappings.c.id, s.oidc_issuers.c.name.label("issuer"),
                    s.oidc_mappings.c.subject, s.oidc_mappings.c.namespace,
                    s.oidc_mappings.c.service_account, s.projects.c.name.label("project"),
                    s.oidc_mappings.c.role, s.oidc_mappings.c.created_at)


class IamStore(StoreBase):
    # -- projects -----------------------------------------------------------------

    def create_project(self, name: str, public: bool = False) -> ProjectRow | None:
        """The new project, or None when one of that name exists."""
        with self._write() as conn:
            # RETURNING, not rowcount: drivers disagree on rowcount after DO NOTHING.
            inserted = conn.execute(self._insert(s.projects).values(
                name=name, public=public, created_at=now()).on_conflict_do_nothing()
                .returning(s.projects.c.id)).first()
            if inserted is None:
                return None
        return self.get_project(name)

    def get_project(self, name: str) -> ProjectRow | None:
        with self._read() as conn:
            row = conn.execute(select(s.projects).where(s.projects.c.name == name)).first()
        return None if row is None else _row(ProjectRow, row)

    def list_projects(self) -> list[ProjectRow]:
        with self._read() as conn:
            rows = conn.execute(select(s.projects).order_by(s.projects.c.name)).all()
        return [_row(ProjectRow, r) for r in rows]

    def set_project_public(self, project_id: int, public: bool) -> None:
        with self._write() as conn:
            conn.execute(update(s.projects).where(s.projects.c.id == project_id)
                         .values(public=public))

    def repository_count(self, project_id: int) -> int:
        with self._read() as conn:
            return int(conn.scalar(select(func.count()).select_from(s.repositories)
                                   .where(s.repositories.c.project_id == project_id)) or 0)

    def delete_project(self, project_id: int) -> bool:
        """Remove the project and, by cascade, its repositories, members, robots, tokens."""
        with self._write() as conn:
            return conn.execute(delete(s.projects)
                                .where(s.projects.c.id == project_id)).rowcount > 0

    # -- users --------------------------------------------------------------------

    def create_user(self, username: str, password_hash: str, is_admin: bool = False
                    ) -> UserRow | None:
        with self._write() as conn:
            inserted = conn.execute(self._insert(s.users).values(
                username=username, password_hash=password_hash, is_admin=is_admin,
                disabled=False, created_at=now()).on_conflict_do_nothing()
                .returning(s.users.c.id)).first()
            if inserted is None:
                return None
        return self.get_user(username)

    def get_user(self, username: str) -> UserRow | None:
        with self._read() as conn:
            row = conn.execute(select(s.users).where(s.users.c.username == username)).first()
        return None if row is None else _row(UserRow, row)

    def get_user_by_id(self, user_id: int) -> UserRow | None:
        with self._read() as conn:
            row = conn.execute(select(s.users).where(s.users.c.id == user_id)).first()
        return None if row is None else _row(UserRow, row)

    def list_users(self) -> list[UserRow]:
        with self._read() as conn:
            rows = conn.execute(select(s.users).order_by(s.users.c.username)).all()
        return [_row(UserRow, r) for r in rows]

    def update_user(self, user_id: int, **values: Any) -> None:
        with self._write() as conn:
            conn.execute(update(s.users).where(s.users.c.id == user_id).values(**values))

    def replace_secret_hash(self, kind: str, key: int | str, old: str, new: str) -> bool:
        """Swap the stored hash of a user ("user"), robot ("robot") or API token ("token")
        only while it is still `old`: an upgrade of a hash must never undo a password
        change or a rotation that landed since the hash was read."""
        table, column = {"user": (s.users, s.users.c.password_hash),
                         "robot": (s.robots, s.robots.c.secret_hash),
                         "token": (s.api_tokens, s.api_tokens.c.secret_hash)}[kind]
        with self._write() as conn:
            return conn.execute(update(table).where(table.c.id == key, column == old)
                                .values({column.name: new})).rowcount > 0

    # -- members ------------------------------------------------------------------

    def set_member(self, project_id: int, user_id: int, role: str) -> None:
        stmt = self._insert(s.members).values(project_id=project_id, user_id=user_id,
                                              role=role, created_at=now())
        with self._write() as conn:
            conn.execute(stmt.on_conflict_do_update(
                index_elements=[s.members.c.project_id, s.members.c.user_id],
                set_={"role": role}))

    def remove_member(self, project_id: int, user_id: int) -> bool:
        with self._write() as conn:
            return conn.execute(delete(s.members).where(
                s.members.c.project_id == project_id,
                s.members.c.user_id == user_id)).rowcount > 0

    def list_members(self, project_id: int) -> list[MemberRow]:
        query = (select(s.projects.c.name.label("project"), s.members.c.user_id,
                        s.users.c.username, s.members.c.role, s.members.c.created_at)
                 .join(s.users, s.users.c.id == s.members.c.user_id)
                 .join(s.projects, s.projects.c.id == s.members.c.project_id)
                 .where(s.members.c.project_id == project_id)
                 .order_by(s.users.c.username))
        with self._read() as conn:
            return [_row(MemberRow, r) for r in conn.execute(query)]

    def roles_of_user(self, user_id: int) -> dict[str, str]:
        query = (select(s.projects.c.name, s.members.c.role)
                 .join(s.projects, s.projects.c.id == s.members.c.project_id)
                 .where(s.members.c.user_id == user_id))
        with self._read() as conn:
            return {r.name: r.role for r in conn.execute(query)}

    # -- robots -------------------------------------------------------------------

    def create_robot(self, name: str, project_id: int, role: str, *, secret_hash: str,
                     expires_at: datetime | None, description: str | None) -> RobotRow | None:
        try:
            with self._write() as conn:
                conn.execute(s.robots.insert().values(
                    name=name, project_id=project_id, role=role, secret_hash=secret_hash,
                    disabled=False, expires_at=expires_at, description=description,
                    created_at=now()))
        except IntegrityError:
            return None
        return self.get_robot(name)

    def _robots(self) -> Any:
        return select(*_ROBOT_COLUMNS).join(s.projects,
                                            s.projects.c.id == s.robots.c.project_id)

    def get_robot(self, name: str) -> RobotRow | None:
        with self._read() as conn:
            row = conn.execute(self._robots().where(s.robots.c.name == name)).first()
        return None if row is None else _row(RobotRow, row)

    def get_robot_by_id(self, robot_id: int) -> RobotRow | None:
        with self._read() as conn:
            row = conn.execute(self._robots().where(s.robots.c.id == robot_id)).first()
        return None if row is None else _row(RobotRow, row)

    def list_robots(self, project_id: int) -> list[RobotRow]:
        query = self._robots().where(s.robots.c.project_id == project_id).order_by(
            s.robots.c.name)
        with self._read() as conn:
            return [_row(RobotRow, r) for r in conn.execute(query)]

    def update_robot(self, robot_id: int, **values: Any) -> None:
        with self._write() as conn:
            conn.execute(update(s.robots).where(s.robots.c.id == robot_id).values(**values))

    def delete_robot(self, robot_id: int) -> bool:
        with self._write() as conn:
            return conn.execute(delete(s.robots).where(s.robots.c.id == robot_id)).rowcount > 0

    # -- API tokens ---------------------------------------------------------------

    def create_token(self, token_id: str, project_id: int, user_id: int | None, role: str, *,
                     secret_hash: str, description: str | None, ttl_seconds: int,
                     expires_at: datetime) -> TokenRow:
        with self._write() as conn:
            conn.execute(s.api_tokens.insert().values(
                id=token_id, project_id=project_id, user_id=user_id, role=role,
                secret_hash=secret_hash, description=description, ttl_seconds=ttl_seconds,
                expires_at=expires_at, created_at=now()))
        row = self.get_token(token_id)
        assert row is not None
        return row

    def _tokens(self) -> Any:
        return (select(*_TOKEN_COLUMNS)
                .join(s.projects, s.projects.c.id == s.api_tokens.c.project_id)
                .outerjoin(s.users, s.users.c.id == s.api_tokens.c.user_id))

    def get_token(self, token_id: str) -> TokenRow | None:
        with self._read() as conn:
            row = conn.execute(self._tokens().where(s.api_tokens.c.id == token_id)).first()
        return None if row is None else _row(TokenRow, row)

    def list_tokens(self, project_id: int, user_id: int | None = None) -> list[TokenRow]:
        query = self._tokens().where(s.api_tokens.c.project_id == project_id)
        if user_id is not None:
            query = query.where(s.api_tokens.c.user_id == user_id)
        with self._read() as conn:
            rows = conn.execute(query.order_by(s.api_tokens.c.created_at)).all()
        return [_row(TokenRow, r) for r in rows]

    def update_token(self, token_id: str, **values: Any) -> None:
        with self._write() as conn:
            conn.execute(update(s.api_tokens).where(s.api_tokens.c.id == token_id)
                         .values(**values))

    # -- signing keys -------------------------------------------------------------

    def list_keys(self) -> list[KeyRow]:
        with self._read() as conn:
            rows = conn.execute(select(s.signing_keys)
                                .order_by(s.signing_keys.c.created_at)).all()
        return [_row(KeyRow, r) for r in rows]

    def add_key(self, kid: str, algorithm: str, private_pem: str, public_jwk: str,
                retire_others: bool) -> None:
        with self._write() as conn:
            if retire_others:
                conn.execute(update(s.signing_keys)
                             .where(s.signing_keys.c.retired_at.is_(None))
                             .values(retired_at=now()))
            conn.execute(s.signing_keys.insert().values(
                kid=kid, algorithm=algorithm, private_pem=private_pem,
                public_jwk=public_jwk, created_at=now()))

    def delete_keys_retired_before(self, before: datetime) -> int:
        with self._write() as conn:
            return conn.execute(delete(s.signing_keys).where(
                s.signing_keys.c.retired_at < before)).rowcount

    # -- OIDC issuers and mappings ------------------------------------------------

    def create_issuer(self, name: str, issuer: str, audience: str | None,
                      jwks: str) -> IssuerRow | None:
        try:
            with self._write() as conn:
                conn.execute(s.oidc_issuers.insert().values(
                    name=name, issuer=issuer, audience=audience, jwks=jwks, created_at=now()))
        except IntegrityError:
            return None
        return self.get_issuer(name)

    def get_issuer(self, name: str) -> IssuerRow | None:
        with self._read() as conn:
            row = conn.execute(select(s.oidc_issuers)
                               .where(s.oidc_issuers.c.name == name)).first()
        return None if row is None else _row(IssuerRow, row)

    def list_issuers(self) -> list[IssuerRow]:
        with self._read() as conn:
            rows = conn.execute(select(s.oidc_issuers).order_by(s.oidc_issuers.c.name)).all()
        return [_row(IssuerRow, r) for r in rows]

    def delete_issuer(self, issuer_id: int) -> bool:
        with self._write() as conn:
            conn.execute(delete(s.oidc_mappings).where(s.oidc_mappings.c.issuer_id == issuer_id))
            return conn.execute(delete(s.oidc_issuers)
                                .where(s.oidc_issuers.c.id == issuer_id)).rowcount > 0

    def create_mapping(self, issuer_id: int, *, subject: str | None, namespace: str | None,
                       service_account: str | None, project_id: int, role: str) -> int:
        with self._write() as conn:
            result = conn.execute(s.oidc_mappings.insert().values(
                issuer_id=issuer_id, subject=subject, namespace=namespace,
                service_account=service_account, project_id=project_id, role=role,
                created_at=now()))
            key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def list_mappings(self) -> list[MappingRow]:
        query = (select(*_MAPPING_COLUMNS)
                 .join(s.oidc_issuers, s.oidc_issuers.c.id == s.oidc_mappings.c.issuer_id)
                 .join(s.projects, s.projects.c.id == s.oidc_mappings.c.project_id)
                 .order_by(s.oidc_mappings.c.id))
        with self._read() as conn:
            return [_row(MappingRow, r) for r in conn.execute(query)]

    def delete_mapping(self, mapping_id: int) -> bool:
        with self._write() as conn:
            return conn.execute(delete(s.oidc_mappings)
                                .where(s.oidc_mappings.c.id == mapping_id)).rowcount > 0

    # -- audit --------------------------------------------------------------------

    def record(self, action: str, outcome: str, actor: str | None, remote: str | None, *,
               target: str | None = None, detail: str | None = None) -> None:
        with self._write() as conn:
            conn.execute(s.audit_events.insert().values(
                at=now(), action=action, outcome=outcome, actor=(actor or "")[:300] or None,
                remote=remote, target=(target or "")[:500] or None, detail=detail))

    def count_events(self, action: str, outcome: str, actor: str, remote: str | None,
                     since: datetime) -> int:
        a = s.audit_events
        query = select(func.count()).select_from(a).where(
            a.c.actor == actor[:300], a.c.at >= since, a.c.action == action,
            a.c.outcome == outcome)
        query = query.where(a.c.remote.is_(None) if remote is None else a.c.remote == remote)
        with self._read() as conn:
            return int(conn.scalar(query) or 0)

    def list_events(self, limit: int, before_id: int | None = None,
                    actor: str | None = None, action: str | None = None) -> list[AuditRow]:
        a = s.audit_events
        query = select(a).order_by(a.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(a.c.id < before_id)
        if actor is not None:
            query = query.where(a.c.actor == actor)
        if action is not None:
            query = query.where(a.c.action == action)
        with self._read() as conn:
            return [_row(AuditRow, r) for r in conn.execute(query)]
