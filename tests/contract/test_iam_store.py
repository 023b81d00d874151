"""The IAM store contract, on every database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from wharf.metadata.engine import make_engine
from wharf.metadata.iam_store import IamStore
from wharf.metadata.store import MetadataStore, now


@pytest.fixture
def iam(database_url: str) -> Iterator[IamStore]:
    engine = make_engine(database_url)
    yield IamStore(engine)
    engine.dispose()


def test_projects(iam: IamStore) -> None:
    created = iam.create_project("acme", public=True)
    assert created is not None
    assert created.public
    assert created.created_at.tzinfo is not None
    assert iam.create_project("acme") is None
    meta = MetadataStore(iam.engine)
    assert meta.ensure_repository("ghost/app", "ghost") is None
    assert meta.ensure_repository("acme/app", "acme") is not None
    assert iam.repository_count(created.id) == 1
    assert meta.catalog(10, None, {"other"}) == []
    assert meta.catalog(10, None, {"acme"}) == ["acme/app"]
    assert iam.delete_project(created.id)
    assert meta.repository_id("acme/app") is None


def test_users_members_robots_tokens(iam: IamStore) -> None:
    project = iam.create_project("acme")
    user = iam.create_user("alice", "hash")
    assert project is not None
    assert user is not None
    assert iam.create_user("alice", "hash") is None
    iam.set_member(project.id, user.id, "registry.puller")
    iam.set_member(project.id, user.id, "registry.pusher")
    assert iam.roles_of_user(user.id) == {"acme": "registry.pusher"}
    assert [m.username for m in iam.list_members(project.id)] == ["alice"]
    robot = iam.create_robot("robot$acme+ci", project.id, "registry.pusher", secret_hash="h",
                             expires_at=now() + timedelta(days=1), description=None)
    assert robot is not None
    assert robot.project == "acme"
    assert iam.create_robot("robot$acme+ci", project.id, "registry.pusher", secret_hash="h",
                            expires_at=None, description=None) is None
    iam.update_robot(robot.id, disabled=True)
    assert iam.get_robot_by_id(robot.id).disabled  # type: ignore[union-attr]
    token = iam.create_token("t1", project.id, user.id, "registry.puller", secret_hash="h",
                             description="ci", ttl_seconds=60, expires_at=now())
    assert token.username == "alice"
    assert [t.id for t in iam.list_tokens(project.id, user.id)] == ["t1"]
    assert iam.remove_member(project.id, user.id)
    assert iam.roles_of_user(user.id) == {}


def test_keys_issuers_mappings_audit(iam: IamStore) -> None:
    project = iam.create_project("acme")
    assert project is not None
    iam.add_key("k1", "ES256", "pem", "{}", retire_others=True)
    iam.add_key("k2", "ES256", "pem", "{}", retire_others=True)
    keys = {k.kid: k for k in iam.list_keys()}
    assert keys["k1"].retired_at is not None
    assert keys["k2"].retired_at is None
    issuer = iam.create_issuer("prod", "https://x", None, '{"keys": []}')
    assert issuer is not None
    assert iam.create_issuer("prod", "https://x", None, "{}") is None
    mapping = iam.create_mapping(issuer.id, subject=None, namespace="web-*",
                                 service_account=None, project_id=project.id,
                                 role="registry.puller")
    assert [m.project for m in iam.list_mappings()] == ["acme"]
    assert iam.delete_mapping(mapping)
    for _ in range(3):
        iam.record("login", "failure", "bob", "10.0.0.1")
    iam.record("login", "failure", "bob", "10.0.0.2")
    since = now() - timedelta(minutes=1)
    assert iam.count_events("login", "failure", "bob", "10.0.0.1", since) == 3
    assert len(iam.list_events(2, actor="bob")) == 2


def test_a_hash_upgrade_never_undoes_a_change_made_since(iam: IamStore) -> None:
    user = iam.create_user("bob", "old")
    assert user is not None
    assert iam.replace_secret_hash("user", user.id, "old", "upgraded")
    assert iam.get_user("bob").password_hash == "upgraded"  # type: ignore[union-attr]
    # The hash was changed (say, a password change) after the login read "upgraded".
    assert not iam.replace_secret_hash("user", user.id, "stale", "other")
    assert iam.get_user("bob").password_hash == "upgraded"  # type: ignore[union-attr]
