from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from wharf.auth.oidc import (
    IdentityError,
    MappingRule,
    TrustedIssuer,
    identity_from_ref,
    roles_for,
    verify_identity_token,
)
from wharf.auth.roles import Role

ISSUER = "https://cluster.example/oidc"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def issuer(key: rsa.RSAPrivateKey) -> TrustedIssuer:
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk["kid"] = "k1"
    return TrustedIssuer("prod", ISSUER, {"keys": [jwk]}, audience="wharf")


def sa_token(key: rsa.RSAPrivateKey, sub: str, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"iss": ISSUER, "sub": sub, "aud": ["wharf"], "iat": now,
                                 "exp": now + 600}
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def test_service_account_token_is_verified(key: rsa.RSAPrivateKey,
                                           issuer: TrustedIssuer) -> None:
    identity = verify_identity_token(sa_token(key, "system:serviceaccount:web:puller"),
                                     [issuer])
    assert (identity.issuer_name, identity.namespace, identity.service_account) == \
        ("prod", "web", "puller")


@pytest.mark.parametrize("overrides", [{"iss": "https://evil"}, {"aud": ["other"]},
                                       {"exp": 1000}])
def test_wrong_issuer_audience_or_expiry(key: rsa.RSAPrivateKey, issuer: TrustedIssuer,
                                         overrides: dict[str, object]) -> None:
    with pytest.raises(IdentityError):
        verify_identity_token(sa_token(key, "system:serviceaccount:a:b", **overrides), [issuer])


def test_other_key_is_refused(issuer: TrustedIssuer) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(IdentityError):
        verify_identity_token(sa_token(other, "system:serviceaccount:a:b"), [issuer])


def test_mapping_rules_by_namespace_and_account() -> None:
    rules = [MappingRule("prod", "acme", Role.PULLER, namespace="web-*"),
             MappingRule("prod", "acme", Role.PUSHER, service_account="ci",
                         namespace="build"),
             MappingRule("staging", "acme", Role.ADMIN, subject="*")]
    ref = identity_from_ref("oidc:prod|system:serviceaccount:web-prod:default")
    assert ref is not None
    assert roles_for(ref, rules) == {"acme": Role.PULLER}
    ci = identity_from_ref("oidc:prod|system:serviceaccount:build:ci")
    assert ci is not None
    assert roles_for(ci, rules) == {"acme": Role.PUSHER}
    other = identity_from_ref("oidc:prod|system:serviceaccount:default:default")
    assert other is not None
    assert roles_for(other, rules) == {}
