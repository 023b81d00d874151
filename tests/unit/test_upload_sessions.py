"""Upload session ids: unguessable, and bound to the repository they were opened in."""

from __future__ import annotations

from wharf.registry.uploads import new_session_id, session_repository
from wharf.storage import keys


def test_a_session_id_names_its_repository_and_is_a_safe_key() -> None:
    session = new_session_id(0x2A)
    assert session_repository(session) == 0x2A
    assert keys.upload(session) == f"uploads/{session}/data"
    assert new_session_id(0x2A) != session


def test_what_is_not_a_session_id_names_no_repository() -> None:
    for text in ("", "x", "../etc", "0" * 32, "0" * 32 + "-", "0" * 31 + "-1", "0" * 32 + "-g",
                 "0" * 32 + "-" + "f" * 16, "00000000-0000-4000-8000-000000000000"):
        assert session_repository(text) is None, text
