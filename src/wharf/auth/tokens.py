"""Registry tokens: short-lived ES256 JWTs (distribution `docs/spec/auth/jwt.md`).

Signing keys live in the metadata database so every node signs and verifies with the
same set. Rotation adds a new key and retires the old ones: retired keys no longer sign
but still verify, so tokens issued just before a rotation stay valid until they expire.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from wharf.auth.scopes import Scope
from wharf.metadata.iam_store import IamStore, KeyRow
from wharf.metadata.store import now

ALGORITHM = "ES256"
_VERIFIED_CACHE_SIZE = 4096
ACCESS = "access"
REFRESH = "refresh"


class TokenError(Exception):
    """A token that must not be honoured; `expired` ones get a message saying so."""

    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    subject: str
    principal_ref: str
    kind: str
    access: list[Scope]
    expires_at: datetime

    def grants(self, type_: str, name: str, action: str) -> bool:
        return any(s.type == type_ and s.name == name and (action in s.actions or
                                                           "*" in s.actions)
                   for s in self.access)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: datetime


def _kid(public_key: ec.EllipticCurvePublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b32encode(hashlib.sha256(der).digest()[:15]).decode().rstrip("=")


class KeyRing:
    def __init__(self, store: IamStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._public: dict[str, Any] = {}
        self._signing: tuple[str, Any] | None = None

    def _load(self) -> list[KeyRow]:
        rows = self._store.list_keys()
        public: dict[str, Any] = {}
        signing: tuple[str, Any] | None = None
        for row in rows:
            public[row.kid] = ECAlgorithm.from_jwk(row.public_jwk)
            if row.retired_at is None:
                # Newest active key wins; two nodes creating one at once both stay valid.
                signing = (row.kid, serialization.load_pem_private_key(
                    row.private_pem.encode(), password=None))
        with self._lock:
            self._public, self._signing = public, signing
        return rows

    def ensure_key(self) -> str:
        self._load()
        if self._signing is None:
            return self.rotate()
        return self._signing[0]

    def rotate(self) -> str:
        """Start signing with a new key; earlier keys keep verifying."""
        private = ec.generate_private_key(ec.SECP256R1())
        kid = _kid(private.public_key())
        pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
        jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
        self._store.add_key(kid, ALGORITHM, pem, json.dumps(jwk), retire_others=True)
        self._load()
        return kid

    def signing_key(self) -> tuple[str, Any]:
        if self._signing is None:
            self.ensure_key()
        # A node that has not seen another node's rotation keeps signing with a retired
        # key; that is harmless because retired keys still verify everywhere.
        assert self._signing is not None
        return self._signing

    def public_key(self, kid: str) -> Any | None:
        key = self._public.get(kid)
        if key is None:
            # Maybe another node rotated since we last looked.
            self._load()
            key = self._public.get(kid)
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [json.loads(row.public_jwk) for row in self._load()]}


class TokenService:
    """Issues and verifies registry tokens for one issuer and service."""

    def __init__(self, keys: KeyRing, issuer: str, service: str, access_ttl: timedelta,
                 refresh_ttl: timedelta) -> None:
        self.keys = keys
        self.issuer = issuer
        self.service = service
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        # Verified tokens by their exact text. A token is immutable and signed, so a
        # verification holds until it expires; this spares an ECDSA check per request.
        self._verified: dict[tuple[str, str], VerifiedToken] = {}
        self._verified_lock = threading.Lock()

    def _sign(self, claims: dict[str, Any], ttl: timedelta) -> IssuedToken:
        issued = now().replace(microsecond=0)
        kid, key = self.keys.signing_key()
        claims = {**claims, "iss": self.issuer, "aud": self.service,
                  "iat": issued, "nbf": issued - timedelta(seconds=5),
                  "exp": issued + ttl, "jti": uuid.uuid4().hex}
        token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})
        return IssuedToken(token, int(ttl.total_seconds()), issued)

    def issue_access(self, subject: str, principal_ref: str, access: list[Scope],
                     ttl: timedelta | None = None) -> IssuedToken:
        ttl = min(ttl, self.access_ttl) if ttl else self.access_ttl
        return self._sign({"sub": subject, "access": [s.claim() for s in access],
                           "wharf_ref": principal_ref, "wharf_typ": ACCESS}, ttl)

    def issue_refresh(self, subject: str, principal_ref: str,
                      ttl: timedelta | None = None) -> IssuedToken:
        ttl = min(ttl, self.refresh_ttl) if ttl else self.refresh_ttl
        return self._sign({"sub": subject, "wharf_ref": principal_ref,
                           "wharf_typ": REFRESH}, ttl)

    def cached(self, token: str, kind: str = ACCESS) -> VerifiedToken | None:
        """The token if it was verified before (no I/O, so the event loop may call this);
        None when it must go through `verify`. Raises TokenError once it has expired."""
        cached = self._verified.get((token, kind))
        if cached is not None and cached.expires_at <= now():
            raise TokenError("token expired", expired=True)
        return cached

    def verify(self, token: str, kind: str = ACCESS) -> VerifiedToken:
        cached = self.cached(token, kind)
        if cached is not None:
            return cached
        verified = self._verify(token, kind)
        with self._verified_lock:
            if len(self._verified) >= _VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[(token, kind)] = verified
        return verified

    def _verify(self, token: str, kind: str) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("malformed token") from exc
        # Only our algorithm: never `none`, never HMAC keyed with a public key.
        if header.get("alg") != ALGORITHM:
            raise TokenError("token algorithm not accepted")
        key = self.keys.public_key(str(header.get("kid", "")))
        if key is None:
            raise TokenError("token signed by an unknown key")
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=self.service,
                                issuer=self.issuer, leeway=5,
                                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token expired", expired=True) from exc
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid token: {exc}") from exc
        if claims.get("wharf_typ") != kind:
            raise TokenError(f"not an {kind} token")
        access = [Scope(str(a.get("type", "")), str(a.get("name", "")),
                        frozenset(str(x) for x in a.get("actions", [])))
                  for a in claims.get("access", []) if isinstance(a, dict)]
        return VerifiedToken(str(claims["sub"]), str(claims.get("wharf_ref", "")), kind,
                             access, datetime.fromtimestamp(int(claims["exp"]),
                                                            tz=now().tzinfo))

    def looks_like_jwt(self, text: str) -> bool:
        return text.count(".") == 2 and text.startswith("ey")
