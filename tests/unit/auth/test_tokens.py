"""Registry tokens: signing, verification, and every way a forged one must fail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from wharf.auth.scopes import parse_scope
from wharf.auth.tokens import ACCESS, REFRESH, KeyRing, TokenError, TokenService
from wharf.metadata.engine import make_engine, migrate
from wharf.metadata.iam_store import IamStore

ACCESS_SCOPE = parse_scope("repository:acme/web:pull,push")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IamStore]:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    migrate(url)
    engine = make_engine(url)
    yield IamStore(engine)
    engine.dispose()


@pytest.fixture
def tokens(store: IamStore) -> TokenService:
    return TokenService(KeyRing(store), "wharf", "wharf", timedelta(minutes=5),
                        timedelta(hours=1))


def _parts(token: str) -> tuple[dict[str, object], dict[str, object], str]:
    header, claims, signature = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(header), decode(claims), signature


def _b64(doc: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def test_round_trip(tokens: TokenService) -> None:
    issued = tokens.issue_access("alice", "user:7", [ACCESS_SCOPE])
    header, claims, _ = _parts(issued.token)
    assert header["alg"] == "ES256"
    assert header["kid"]
    assert claims["iss"] == "wharf"
    assert claims["aud"] == "wharf"
    assert claims["access"] == [{"type": "repository", "name": "acme/web",
                                 "actions": ["pull", "push"]}]
    assert issued.expires_in == 300
    verified = tokens.verify(issued.token)
    assert verified.subject == "alice"
    assert verified.principal_ref == "user:7"
    assert verified.grants("repository", "acme/web", "push")
    assert not verified.grants("repository", "acme/other", "pull")


def test_alg_none_is_refused(tokens: TokenService) -> None:
    _, claims, _ = _parts(tokens.issue_access("alice", "user:7", [ACCESS_SCOPE]).token)
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(TokenError, match="algorithm"):
        tokens.verify(forged)


def test_hmac_with_the_public_key_is_refused(tokens: TokenService, store: IamStore) -> None:
    kid = tokens.keys.ensure_key()
    public_jwk = store.list_keys()[0].public_jwk
    _, claims, _ = _parts(tokens.issue_access("alice", "user:7", [ACCESS_SCOPE]).token)
    # The classic confusion attack: HS256 keyed with the (public) verification key.
    signing_input = f"{_b64({'alg': 'HS256', 'kid': kid})}.{_b64(claims)}"
    mac = hmac.new(public_jwk.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    with pytest.raises(TokenError):
        tokens.verify(forged)


def test_wrong_key_is_refused(tokens: TokenService) -> None:
    kid = tokens.keys.ensure_key()
    _, claims, _ = _parts(tokens.issue_access("alice", "user:7", [ACCESS_SCOPE]).token)
    other = ec.generate_private_key(ec.SECP256R1())
    for header_kid in (kid, "unknown-kid"):
        forged = jwt.encode(claims, other, algorithm="ES256", headers={"kid": header_kid})
        with pytest.raises(TokenError):
            tokens.verify(forged)


def test_tampered_access_is_refused(tokens: TokenService) -> None:
    token = tokens.issue_access("alice", "user:7", [parse_scope("repository:a/x:pull")]).token
    header, claims, signature = _parts(token)
    claims["access"] = [{"type": "repository", "name": "b/x", "actions": ["pull", "push"]}]
    forged = f"{token.split('.')[0]}.{_b64(claims)}.{signature}"
    with pytest.raises(TokenError, match="invalid"):
        tokens.verify(forged)
    assert header["alg"] == "ES256"


@pytest.mark.parametrize(("issuer", "service"), [("evil", "wharf"), ("wharf", "elsewhere")])
def test_wrong_issuer_or_audience_is_refused(store: IamStore, tokens: TokenService,
                                             issuer: str, service: str) -> None:
    stranger = TokenService(tokens.keys, issuer, service, timedelta(minutes=5),
                            timedelta(hours=1))
    token = stranger.issue_access("alice", "user:7", [ACCESS_SCOPE]).token
    with pytest.raises(TokenError, match="invalid"):
        tokens.verify(token)


def test_expired_says_so(tokens: TokenService) -> None:
    kid, key = tokens.keys.signing_key()
    claims = {"sub": "alice", "iss": "wharf", "aud": "wharf", "iat": 1_000, "exp": 2_000,
              "wharf_typ": ACCESS, "wharf_ref": "user:7", "access": []}
    token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})
    with pytest.raises(TokenError, match="token expired") as info:
        tokens.verify(token)
    assert info.value.expired


def test_refresh_and_access_tokens_are_not_interchangeable(tokens: TokenService) -> None:
    refresh = tokens.issue_refresh("alice", "user:7").token
    with pytest.raises(TokenError):
        tokens.verify(refresh, ACCESS)
    access = tokens.issue_access("alice", "user:7", []).token
    with pytest.raises(TokenError):
        tokens.verify(access, REFRESH)
    assert tokens.verify(refresh, REFRESH).principal_ref == "user:7"


def test_rotation_keeps_old_tokens_valid_and_is_shared(store: IamStore,
                                                       tokens: TokenService) -> None:
    before = tokens.issue_access("alice", "user:7", [ACCESS_SCOPE]).token
    new_kid = tokens.keys.rotate()
    after = tokens.issue_access("alice", "user:7", [ACCESS_SCOPE]).token
    assert _parts(after)[0]["kid"] == new_kid != _parts(before)[0]["kid"]
    # Another node (another key ring over the same database) verifies both.
    other_node = TokenService(KeyRing(store), "wharf", "wharf", timedelta(minutes=5),
                              timedelta(hours=1))
    assert other_node.verify(before).subject == "alice"
    assert other_node.verify(after).subject == "alice"
    assert len(tokens.keys.jwks()["keys"]) == 2
