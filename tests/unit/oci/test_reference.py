from __future__ import annotations

import pytest

from wharf.oci.reference import ImageReference, parse_image_reference


@pytest.mark.parametrize(("text", "expected"), [
    ("nginx", ImageReference("docker.io", "library/nginx", None, None)),
    ("nginx:1.25", ImageReference("docker.io", "library/nginx", "1.25", None)),
    ("acme/web:1.0", ImageReference("docker.io", "acme/web", "1.0", None)),
    ("registry.example.com/acme/web:1.0",
     ImageReference("registry.example.com", "acme/web", "1.0", None)),
    ("127.0.0.1:5000/acme/web", ImageReference("127.0.0.1:5000", "acme/web", None, None)),
    ("localhost/acme/web@sha256:" + "a" * 64,
     ImageReference("localhost", "acme/web", None, "sha256:" + "a" * 64)),
    ("Registry.Example.com:443/a/b:t@sha256:" + "b" * 64,
     ImageReference("registry.example.com:443", "a/b", "t", "sha256:" + "b" * 64)),
    ("index.docker.io/nginx", ImageReference("docker.io", "library/nginx", None, None)),
])
def test_parse(text: str, expected: ImageReference) -> None:
    assert parse_image_reference(text) == expected


@pytest.mark.parametrize("text", ["", " ", "a b", "acme/web:", "acme/web@"])
def test_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="invalid image reference"):
        parse_image_reference(text)
