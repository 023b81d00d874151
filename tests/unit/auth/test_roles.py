from __future__ import annotations

import itertools
from types import MappingProxyType

import pytest

from wharf.auth.principals import ANONYMOUS, Principal, ProjectFacts, allowed_actions
from wharf.auth.roles import Role


def test_ladder_is_ordered_and_cumulative() -> None:
    ladder = [Role.VIEWER, Role.PULLER, Role.PUSHER, Role.ADMIN]
    assert sorted(ladder) == ladder
    for lower, higher in itertools.pairwise(ladder):
        assert lower.actions < higher.actions


def test_what_each_role_allows() -> None:
    assert Role.VIEWER.actions == {"view"}
    assert Role.PULLER.actions == {"view", "pull"}
    assert Role.PUSHER.actions == {"view", "pull", "push"}
    assert Role.ADMIN.actions == {"view", "pull", "push", "delete"}


@pytest.mark.parametrize("text", ["pusher", "registry.pusher", "PUSHER", " registry.Pusher "])
def test_role_names(text: str) -> None:
    assert Role.parse(text) is Role.PUSHER
    assert Role.PUSHER.label == "registry.pusher"


def test_unknown_role() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        Role.parse("owner")


def _member(project: str, role: Role) -> Principal:
    return Principal("user", "u", "user:1", MappingProxyType({project: role}))


def test_roles_apply_only_to_their_project() -> None:
    private = ProjectFacts("acme", public=False)
    assert allowed_actions(_member("acme", Role.PUSHER), "acme", private) == Role.PUSHER.actions
    assert allowed_actions(_member("other", Role.ADMIN), "acme", private) == frozenset()


def test_public_projects_let_anyone_pull() -> None:
    public = ProjectFacts("pub", public=True)
    assert allowed_actions(ANONYMOUS, "pub", public) == {"view", "pull"}
    assert allowed_actions(_member("pub", Role.PUSHER), "pub", public) == Role.PUSHER.actions


def test_missing_project_allows_nothing_except_to_system_admins() -> None:
    assert allowed_actions(_member("ghost", Role.ADMIN), "ghost", None) == frozenset()
    admin = Principal("user", "admin", "user:1", is_admin=True)
    assert allowed_actions(admin, "ghost", None) == Role.ADMIN.actions
