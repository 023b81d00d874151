"""Federated identity: JWTs from trusted OIDC issuers (e.g. Kubernetes projected
service-account tokens) mapped to project roles by rules.

Issuer keys are given as a JWKS document (inline or from a file); nothing is fetched over
the network, so a cluster's keys are configured once per cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import jwt

from wharf.auth.roles import Role

# Asymmetric algorithms only: an HMAC "JWKS" would let the issuer's verifier forge tokens.
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "PS384", "PS512"]
SA_PREFIX = "system:serviceaccount:"


class IdentityError(Exception):
    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    name: str
    issuer: str
    jwks: dict[str, Any]
    audience: str | None = None


@dataclass(frozen=True, slots=True)
class MappingRule:
    """Grants `role` in `project` to identities of `issuer` matching every glob given."""

    issuer: str
    project: str
    role: Role
    subject: str | None = None
    namespace: str | None = None
    service_account: str | None = None

    def matches(self, identity: FederatedIdentity) -> bool:
        if identity.issuer_name != self.issuer:
            return False
        checks = ((self.subject, identity.subject), (self.namespace, identity.namespace),
                  (self.service_account, identity.service_account))
        return all(pattern is None or (value is not None and fnmatchcase(value, pattern))
                   for pattern, value in checks)


@dataclass(frozen=True, slots=True)
class FederatedIdentity:
    issuer_name: str
    subject: str
    namespace: str | None
    service_account: str | None
    expires_at: int

    @property
    def ref(self) -> str:
        return f"oidc:{self.issuer_name}|{self.subject}"


def identity_from_ref(ref: str) -> FederatedIdentity | None:
    """Rebuild an identity from a principal ref (namespace and account come from `sub`)."""
    if not ref.startswith("oidc:") or "|" not in ref:
        return None
    issuer_name, subject = ref[len("oidc:"):].split("|", 1)
    namespace, account = _service_account(subject, {})
    return FederatedIdentity(issuer_name, subject, namespace, account, 0)


def _service_account(subject: str, claims: dict[str, Any]) -> tuple[str | None, str | None]:
    k8s = claims.get("kubernetes.io")
    if isinstance(k8s, dict):
        sa = k8s.get("serviceaccount")
        if isinstance(k8s.get("namespace"), str) and isinstance(sa, dict):
            return str(k8s["namespace"]), str(sa.get("name")) if sa.get("name") else None
    if subject.startswith(SA_PREFIX):
        parts = subject[len(SA_PREFIX):].split(":", 1)
        if len(parts) == 2:
            return parts[0], parts[1]
    return None, None


def parse_jwks(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list) or not doc["keys"]:
        raise ValueError("a JWKS document is an object with a non-empty `keys` list")
    for key in doc["keys"]:
        jwt.PyJWK(key)
    return doc


def _key_for(issuer: TrustedIssuer, kid: str | None) -> Any:
    keys = issuer.jwks.get("keys", [])
    candidates = [k for k in keys if kid is None or k.get("kid") == kid]
    if kid is not None and not candidates:
        raise IdentityError(f"token signed by a key unknown for issuer {issuer.name}")
    if len(candidates) != 1:
        raise IdentityError("token names no key id and the issuer has several keys")
    return jwt.PyJWK(candidates[0]).key


def verify_identity_token(token: str, issuers: list[TrustedIssuer]) -> FederatedIdentity:
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise IdentityError("malformed identity token") from exc
    if header.get("alg") not in ALGORITHMS:
        raise IdentityError("identity token algorithm not accepted")
    iss = unverified.get("iss")
    trusted = next((i for i in issuers if i.issuer == iss), None)
    if trusted is None:
        raise IdentityError("identity token from an untrusted issuer")
    key = _key_for(trusted, header.get("kid"))
    options: Any = {"require": ["exp", "iss", "sub"],
                               "verify_aud": trusted.audience is not None}
    try:
        claims = jwt.decode(token, key, algorithms=ALGORITHMS, issuer=trusted.issuer,
                            audience=trusted.audience, leeway=30, options=options)
    except jwt.ExpiredSignatureError as exc:
        raise IdentityError("identity token expired", expired=True) from exc
    except jwt.PyJWTError as exc:
        raise IdentityError(f"invalid identity token: {exc}") from exc
    subject = str(claims["sub"])
    namespace, account = _service_account(subject, claims)
    return FederatedIdentity(trusted.name, subject, namespace, account, int(claims["exp"]))


def roles_for(identity: FederatedIdentity, rules: list[MappingRule]) -> dict[str, Role]:
    """The highest role each matching rule grants, per project."""
    roles: dict[str, Role] = {}
    for rule in rules:
        if rule.matches(identity):
            roles[rule.project] = max(roles.get(rule.project, rule.role), rule.role)
    return roles
