"""Generating, hashing and checking secrets (passwords, robot secrets, API tokens)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "wharf_"  # noqa: S105 - a marker, not a secret

# argon2id with OWASP's recommended minimum (m=19 MiB, t=2, p=1) rather than argon2-cffi's
# default (m=64 MiB, t=3, p=4): each verification allocates memory_cost for its duration.
# A stored hash carries its own parameters, so hashes made with the old default still
# verify (at their old cost) until the secret is next set.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# More argon2 runs at once than cores finish no sooner, and each holds memory_cost of RAM:
# a burst of logins (or of guesses under many names) would otherwise grow the server by
# memory_cost per thread-pool thread.
_argon2_slots = threading.BoundedSemaphore(max(1, min(4, os.cpu_count() or 1)))


def generate_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    with _argon2_slots:
        return _hasher.hash(secret)


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with other parameters than new hashes get."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False


def verify_secret(stored_hash: str, secret: str) -> bool:
    """argon2's verify compares in constant time; a malformed hash is just a mismatch."""
    try:
        with _argon2_slots:
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

    argon2 is deliberately slow and memory-hard; clients that send Basic credentials on
    every request (docker fetches a token per repository) would pay it each time. The key
    includes the stored hash, so a rotated secret or a changed password never hits a stale
    entry; disabled or revoked accounts are checked against the database on every request
    regardless. Keys are HMACs under a random per-process key: neither the secret nor a
    plain fast hash of it, which could be checked against guesses without that key.
    """

    def __init__(self, ttl: float = 60.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._hmac_key = secrets.token_bytes(32)

    def _key(self, stored_hash: str, secret: str) -> bytes:
        message = f"{stored_hash}\0{secret}".encode()
        return hmac.new(self._hmac_key, message, hashlib.sha256).digest()

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
