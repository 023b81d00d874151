import hashlib

import pytest

from wharf.oci.digest import Digest, DigestError, is_digest


def test_parse_sha256_and_sha512() -> None:
    hex256 = hashlib.sha256(b"x").hexdigest()
    hex512 = hashlib.sha512(b"x").hexdigest()
    assert str(Digest.parse(f"sha256:{hex256}")) == f"sha256:{hex256}"
    assert Digest.parse(f"sha512:{hex512}").algorithm == "sha512"


@pytest.mark.parametrize("text", [
    "", "sha256", "sha256:", "sha256:abc", "SHA256:" + "a" * 64, "sha256:" + "A" * 64,
    "sha256:../../etc/passwd", "sha256:" + "a" * 63, "sha512:" + "a" * 64, "sha256:" + "a" * 300,
])
def test_malformed_digests_are_rejected(text: str) -> None:
    with pytest.raises(DigestError) as info:
        Digest.parse(text)
    assert not info.value.unsupported


def test_unknown_algorithm_is_unsupported_not_malformed() -> None:
    with pytest.raises(DigestError) as info:
        Digest.parse("md5:" + "a" * 32)
    assert info.value.unsupported


def test_of_and_is_digest() -> None:
    assert Digest.of(b"abc").encoded == hashlib.sha256(b"abc").hexdigest()
    assert is_digest("sha256:abc")
    assert not is_digest("latest")
