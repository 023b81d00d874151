import pytest

from wharf.oci.names import is_valid_name, is_valid_tag, project_of


@pytest.mark.parametrize("name", ["a", "acme/web", "acme/team/app", "a-b/c.d_e", "a__b/c---d"])
def test_valid_names(name: str) -> None:
    assert is_valid_name(name)


@pytest.mark.parametrize("name", [
    "", "A", "acme/", "/acme", "acme//web", "-a", "a-", "a/../b", "..", "a/.", "a b",
    "a" * 256, "a/b%2f", "acme/web:tag",
])
def test_invalid_names(name: str) -> None:
    assert not is_valid_name(name)


@pytest.mark.parametrize(("tag", "ok"), [
    ("latest", True), ("v1.2.3", True), ("_x", True), ("A" * 128, True), ("A" * 129, False),
    ("-bad", False), (".bad", False), ("a/b", False), ("", False), ("sha256:x", False),
])
def test_tags(tag: str, ok: bool) -> None:
    assert is_valid_tag(tag) is ok


def test_project_is_first_component() -> None:
    assert project_of("acme/team/app") == "acme"
    assert project_of("solo") == "solo"
