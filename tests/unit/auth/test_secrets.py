from __future__ import annotations

from wharf.auth.secrets import (
    VerifiedCache,
    hash_secret,
    make_api_token,
    split_api_token,
    verify_secret,
)


def test_hash_and_verify() -> None:
    stored = hash_secret("s3cret")
    assert stored.startswith("$argon2")
    assert verify_secret(stored, "s3cret")
    assert not verify_secret(stored, "s3cret ")
    assert not verify_secret("not a hash", "s3cret")


def test_api_token_shape() -> None:
    token = make_api_token("abc123", "xyz_with_underscore")
    assert split_api_token(token) == ("abc123", "xyz_with_underscore")
    assert split_api_token("password") is None
    assert split_api_token("wharf_") is None


def test_cache_is_keyed_by_hash_and_secret() -> None:
    cache = VerifiedCache()
    stored = hash_secret("a")
    assert not cache.hit(stored, "a")
    cache.remember(stored, "a")
    assert cache.hit(stored, "a")
    assert not cache.hit(stored, "b")
    assert not cache.hit(hash_secret("a"), "a")
