"""Generating, hashing and checking secrets (passwords, robot secrets, API tokens)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "wharf_"  # noqa: S105 - a marker, not a secret

_hasher = PasswordHasher()


def generate_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    """argon2's verify compares in constant time; a malformed hash is just a mismatch."""
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# A never-matching hash to verify against when the account does not exist, so that an
# unknown name costs as long as a wrong password (no user enumeration by timing).
DUMMY_HASH = hash_secret(generate_secret())


def make_api_token(token_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}{token_id}_{secret}"


def split_api_token(text: str) -> tuple[str, str] | None:
    """(id, secret) of something shaped like an API token, else None."""
    if not text.startswith(TOKEN_PREFIX):
        return None
    token_id, sep, secret = text[len(TOKEN_PREFIX):].partition("_")
    if not sep or not token_id or not secret or len(token_id) > 32:
        return None
    return token_id, secret


class VerifiedCache:
    """Remembers recently verified (hash, secret) pairs for a short time.

    argon2 is deliberately slow; clients that send Basic credentials on every request
    would pay it each time. The key includes the stored hash, so a rotated secret or a
    changed password never hits a stale entry; disabled or revoked accounts are checked
    against the database on every request regardless.
    """

    def __init__(self, ttl: float = 60.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(stored_hash: str, secret: str) -> str:
        return hashlib.sha256(f"{stored_hash}\0{secret}".encode()).hexdigest()

    def hit(self, stored_hash: str, secret: str) -> bool:
        """Whether this exact pair verified within the last `ttl` seconds."""
        expiry = self._entries.get(self._key(stored_hash, secret))
        return expiry is not None and expiry > time.monotonic()

    def remember(self, stored_hash: str, secret: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries = {k: v for k, v in self._entries.items() if v > now}
                if len(self._entries) >= self._max:
                    self._entries.clear()
            self._entries[self._key(stored_hash, secret)] = now + self._ttl
