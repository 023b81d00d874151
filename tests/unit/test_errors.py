from pathlib import Path

from wharf import errors


def test_docs_error_table_is_current() -> None:
    docs = Path(__file__).parents[2] / "docs" / "errors.md"
    assert docs.read_text() == errors.markdown_table(), "regenerate: python -m wharf.errors"


def test_error_body_format() -> None:
    err = errors.RegistryError(errors.BLOB_UNKNOWN, {"digest": "sha256:x"})
    assert err.body() == {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry",
                                      "detail": {"digest": "sha256:x"}}]}
    assert err.code.status == 404
