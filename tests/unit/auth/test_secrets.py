from __future__ import annotations

from argon2 import PasswordHasher, extract_parameters

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


def test_new_hashes_use_owasp_parameters() -> None:
    params = extract_parameters(hash_secret("s3cret"))
    assert params.type.name == "ID"
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19 * 1024, 2, 1)


def test_hashes_made_with_the_old_default_parameters_still_verify() -> None:
    # Before the OWASP parameters, secrets were hashed with argon2-cffi's defaults.
    old = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash("s3cret")
    assert extract_parameters(old).memory_cost == 64 * 1024
    assert verify_secret(old, "s3cret")
    assert not verify_secret(old, "s3cret ")


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


def test_cache_keys_are_keyed_hmacs_not_the_secret() -> None:
    cache, other = VerifiedCache(), VerifiedCache()
    stored = hash_secret("a")
    cache.remember(stored, "a")
    [key] = cache._entries
    assert len(key) == 32
    # Another process (or cache) has its own HMAC key: entries mean nothing outside it.
    assert not other.hit(stored, "a")
    assert other._key(stored, "a") != key
