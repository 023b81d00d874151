from __future__ import annotations

import pytest

from wharf.auth.roles import PUBLIC_ACTIONS, Role
from wharf.auth.scopes import (
    Scope,
    ScopeError,
    challenge_scope,
    intersect,
    parse_scope,
    parse_scopes,
)


def test_parse_repository_scope() -> None:
    scope = parse_scope("repository:acme/web:pull,push")
    assert scope == Scope("repository", "acme/web", frozenset({"pull", "push"}))
    assert str(scope) == "repository:acme/web:pull,push"


def test_name_may_contain_a_colon() -> None:
    scope = parse_scope("repository:localhost:5000/acme/web:pull")
    assert scope.name == "localhost:5000/acme/web"
    assert scope.actions == {"pull"}


@pytest.mark.parametrize("text", ["repository", "repository:acme", ":acme/web:pull",
                                  "repository::pull"])
def test_malformed_scopes(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)


def test_several_scopes_and_space_separated_values_merge() -> None:
    scopes = parse_scopes(["repository:a/b:pull", "repository:a/b:push repository:c/d:pull"])
    assert sorted(map(str, scopes)) == ["repository:a/b:pull,push", "repository:c/d:pull"]


def test_intersection_keeps_only_what_is_allowed() -> None:
    asked = parse_scope("repository:acme/web:pull,push,delete")
    granted = intersect(asked, Role.PULLER.actions)
    assert granted is not None
    assert granted.actions == {"view", "pull"}
    assert intersect(parse_scope("repository:acme/web:push"), Role.PULLER.actions) is None


def test_pull_implies_view_so_viewers_can_list_tags() -> None:
    granted = intersect(parse_scope("repository:acme/web:pull"), Role.VIEWER.actions)
    assert granted is not None
    assert granted.actions == {"view"}


def test_star_is_everything_allowed() -> None:
    granted = intersect(parse_scope("repository:acme/web:*"), Role.PUSHER.actions)
    assert granted is not None
    assert granted.actions == Role.PUSHER.actions


def test_public_projects_allow_only_pull() -> None:
    assert intersect(parse_scope("repository:pub/x:push"), PUBLIC_ACTIONS) is None


def test_challenge_scope_uses_docker_action_words() -> None:
    assert challenge_scope("acme/web", frozenset({"push"})) == "repository:acme/web:pull,push"
    assert challenge_scope("acme/web", frozenset({"view"})) == "repository:acme/web:pull"
    assert challenge_scope("acme/web", frozenset({"delete"})) == "repository:acme/web:delete"
