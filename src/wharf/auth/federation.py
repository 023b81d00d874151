"""Managing trusted OIDC issuers, their mapping rules, and the token signing keys."""

from __future__ import annotations

import json
from typing import Any

from wharf import errors
from wharf.auth import oidc
from wharf.auth.management import Caller
from wharf.auth.roles import Role
from wharf.auth.tokens import KeyRing
from wharf.errors import RegistryError
from wharf.metadata.iam_store import IamStore, IssuerRow, KeyRow, MappingRow


def _admin(caller: Caller) -> None:
    if not caller.principal.is_admin:
        raise RegistryError(errors.DENIED, {"reason": "requires a system administrator"})


def _invalid(reason: str) -> RegistryError:
    return RegistryError(errors.INVALID_REQUEST, {"reason": reason}, f"invalid request: {reason}")


class FederationService:
    def __init__(self, store: IamStore, keys: KeyRing) -> None:
        self.store = store
        self.keys = keys

    def _audit(self, caller: Caller, action: str, target: str) -> None:
        self.store.record(action, "ok", caller.principal.name, caller.remote, target=target)

    def create_issuer(self, caller: Caller, name: str, issuer: str, jwks: dict[str, Any],
                      audience: str | None) -> IssuerRow:
        _admin(caller)
        if not name or not issuer:
            raise _invalid("name and issuer are required")
        try:
            text = json.dumps(oidc.parse_jwks(json.dumps(jwks)))
        except (ValueError, TypeError, Exception) as exc:
            raise _invalid(f"jwks: {exc}") from exc
        row = self.store.create_issuer(name, issuer, audience, text)
        if row is None:
            raise RegistryError(errors.CONFLICT, {"issuer": name}, "issuer already exists")
        self._audit(caller, "oidc.issuer.create", name)
        return row

    def list_issuers(self, caller: Caller) -> list[IssuerRow]:
        _admin(caller)
        return self.store.list_issuers()

    def delete_issuer(self, caller: Caller, name: str) -> None:
        _admin(caller)
        row = self.store.get_issuer(name)
        if row is None:
            raise RegistryError(errors.RESOURCE_UNKNOWN, {"issuer": name})
        self.store.delete_issuer(row.id)
        self._audit(caller, "oidc.issuer.delete", name)

    def create_mapping(self, caller: Caller, issuer: str, project: str, role: str, *,
                       subject: str | None, namespace: str | None,
                       service_account: str | None) -> MappingRow:
        _admin(caller)
        issuer_row = self.store.get_issuer(issuer)
        project_row = self.store.get_project(project)
        if issuer_row is None:
            raise RegistryError(errors.RESOURCE_UNKNOWN, {"issuer": issuer})
        if project_row is None:
            raise RegistryError(errors.RESOURCE_UNKNOWN, {"project": project})
        if subject is None and namespace is None and service_account is None:
            raise _invalid("give at least one of subject, namespace, service_account")
        try:
            label = Role.parse(role).label
        except ValueError as exc:
            raise _invalid(str(exc)) from exc
        mapping_id = self.store.create_mapping(issuer_row.id, subject=subject,
                                               namespace=namespace,
                                               service_account=service_account,
                                               project_id=project_row.id, role=label)
        self._audit(caller, "oidc.mapping.create", f"{issuer}->{project}")
        return next(m for m in self.store.list_mappings() if m.id == mapping_id)

    def list_mappings(self, caller: Caller) -> list[MappingRow]:
        _admin(caller)
        return self.store.list_mappings()

    def delete_mapping(self, caller: Caller, mapping_id: int) -> None:
        _admin(caller)
        if not self.store.delete_mapping(mapping_id):
            raise RegistryError(errors.RESOURCE_UNKNOWN, {"mapping": mapping_id})
        self._audit(caller, "oidc.mapping.delete", str(mapping_id))

    def list_keys(self, caller: Caller) -> list[KeyRow]:
        _admin(caller)
        return self.store.list_keys()

    def rotate_key(self, caller: Caller) -> str:
        _admin(caller)
        kid = self.keys.rotate()
        self._audit(caller, "signing_key.rotate", kid)
        return kid
