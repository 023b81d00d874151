"""The token service and its edges: challenges, the GET and OAuth2 POST flows, forged
tokens, expiry, rotation, rate limiting, auditing, and project lifecycle rules."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.iam import (
    add_member,
    api,
    bearer,
    create_project,
    create_robot,
    create_token,
    create_user,
    registry_token,
    unique,
)
from tests.support.oci import push_image
from tests.support.server import WharfServer

OCI = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


@pytest.fixture(scope="module")
def projects(server: WharfServer) -> tuple[str, str]:
    """Two private projects, each with one image at `<project>/app:v1`."""
    with httpx.Client(base_url=server.url, auth=server.auth, timeout=30) as admin:
        a, b = unique("tka"), unique("tkb")
        for project in (a, b):
            create_project(admin, project)
            push_image(admin, f"{project}/app", tag="v1")
    return a, b


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _b64(doc: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


def test_challenge_names_realm_service_and_scope(server: WharfServer,
                                                 projects: tuple[str, str]) -> None:
    resp = httpx.post(f"{server.url}/v2/{projects[0]}/app/blobs/uploads/")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == (
        f'Bearer realm="{server.url}/auth/token",service="wharf",'
        f'scope="repository:{projects[0]}/app:pull,push"')
    assert resp.json()["errors"][0]["code"] == "UNAUTHORIZED"
    pull = httpx.get(f"{server.url}/v2/{projects[0]}/app/manifests/v1")
    assert f'scope="repository:{projects[0]}/app:pull"' in pull.headers["WWW-Authenticate"]


def test_get_token_grants_the_intersection(server: WharfServer, client: httpx.Client,
                                           projects: tuple[str, str]) -> None:
    a, b = projects
    username = unique("tkpull")
    password = create_user(client, username)
    add_member(client, a, username, "puller")
    resp = registry_token(server.url, httpx.BasicAuth(username, password),
                          f"repository:{a}/app:pull,push", f"repository:{b}/app:pull")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token"] == body["access_token"]
    assert 0 < body["expires_in"] <= 300
    assert body["issued_at"].endswith("Z")
    claims = claims_of(body["token"])
    assert claims["sub"] == username
    assert claims["access"] == [{"type": "repository", "name": f"{a}/app",
                                 "actions": ["view", "pull"]}]
    with httpx.Client(base_url=server.url, headers={
            "Authorization": f"Bearer {body['token']}"}) as c:
        assert c.get(f"/v2/{a}/app/manifests/v1", headers=OCI).status_code == 200
        # Allowed by the token's absence of push: the user may not push, so 403.
        assert c.post(f"/v2/{a}/app/blobs/uploads/").status_code == 403
        # Project B is neither in the token nor allowed: denied, whether it exists or not.
        assert c.get(f"/v2/{b}/app/manifests/v1").status_code == 403


def test_token_lacking_a_scope_the_caller_has_asks_for_another(
        server: WharfServer, projects: tuple[str, str]) -> None:
    a = projects[0]
    token = bearer(server.url, server.auth, f"repository:{a}/app:pull")
    resp = httpx.post(f"{server.url}/v2/{a}/app/blobs/uploads/",
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    challenge = resp.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert f'scope="repository:{a}/app:pull,push"' in challenge


def test_anonymous_token_and_bad_credentials(server: WharfServer,
                                             projects: tuple[str, str]) -> None:
    a = projects[0]
    anonymous = registry_token(server.url, None, f"repository:{a}/app:pull")
    assert anonymous.status_code == 200
    assert claims_of(anonymous.json()["token"])["access"] == []
    bad = registry_token(server.url, httpx.BasicAuth("admin", "wrong-password"),
                         f"repository:{a}/app:pull")
    assert bad.status_code == 401
    assert bad.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert registry_token(server.url, server.auth, service="other").status_code == 400
    assert registry_token(server.url, server.auth, "repository").status_code == 400


def test_oauth_password_and_refresh_grants(server: WharfServer,
                                           projects: tuple[str, str]) -> None:
    a = projects[0]
    resp = httpx.post(f"{server.url}/auth/token", data={
        "grant_type": "password", "username": "admin", "password": server.admin_password,
        "service": "wharf", "client_id": "test", "access_type": "offline",
        "scope": f"repository:{a}/app:pull registry:catalog:*"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["scope"] == f"repository:{a}/app:view,pull registry:catalog:*"
    refresh = body["refresh_token"]
    again = httpx.post(f"{server.url}/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh, "service": "wharf",
        "client_id": "test", "scope": f"repository:{a}/app:push"})
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == refresh
    assert claims_of(again.json()["access_token"])["access"] == [
        {"type": "repository", "name": f"{a}/app", "actions": ["push"]}]
    # An access token is not a refresh token, and garbage is refused.
    for wrong in (body["access_token"], "not-a-token"):
        resp = httpx.post(f"{server.url}/auth/token", data={
            "grant_type": "refresh_token", "refresh_token": wrong, "service": "wharf",
            "client_id": "test"})
        assert resp.status_code == 401
    unsupported = httpx.post(f"{server.url}/auth/token", data={"grant_type": "magic"})
    assert unsupported.status_code == 400
    # A refresh token also works as a Basic password, for clients without OAuth.
    with httpx.Client(base_url=server.url, auth=("anyone", refresh)) as c:
        assert c.get(f"/v2/{a}/app/tags/list").status_code == 200


def _forged(server: WharfServer, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/v2/{token_repo(token)}/manifests/v1",
                     headers={"Authorization": f"Bearer {token}", **OCI})


def token_repo(token: str) -> str:
    try:
        access = claims_of(token)["access"]
        assert isinstance(access, list)
        return str(access[0]["name"])
    except (ValueError, IndexError, KeyError, AssertionError):
        return "x/y"


def test_forged_tokens_are_refused(server: WharfServer, projects: tuple[str, str]) -> None:
    a, b = projects
    good = bearer(server.url, server.auth, f"repository:{a}/app:pull")
    assert _forged(server, good).status_code == 200
    header = json.loads(base64.urlsafe_b64decode(good.split(".")[0] + "=="))
    claims = claims_of(good)
    stranger = ec.generate_private_key(ec.SECP256R1())
    forged = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "wrong key": jwt.encode(claims, stranger, algorithm="ES256",
                                headers={"kid": header["kid"]}),
        "wrong iss": jwt.encode({**claims, "iss": "evil"}, stranger, algorithm="ES256",
                                headers={"kid": header["kid"]}),
        "tampered access": ".".join([good.split(".")[0], _b64({**claims, "access": [
            {"type": "repository", "name": f"{b}/app", "actions": ["pull", "push"]}]}),
            good.split(".")[2]]),
        "garbage": "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
    }
    for name, token in forged.items():
        resp = _forged(server, token)
        assert resp.status_code == 401, f"{name}: {resp.status_code} {resp.text}"
        assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"], name


def test_token_for_project_a_does_not_open_project_b(server: WharfServer,
                                                     client: httpx.Client,
                                                     projects: tuple[str, str]) -> None:
    a, b = projects
    robot = create_robot(client, a, unique("r"), "pusher")
    token = bearer(server.url, robot.auth, f"repository:{a}/app:pull",
                   f"repository:{b}/app:pull")
    assert [x["name"] for x in claims_of(token)["access"]] == [f"{a}/app"]  # type: ignore[union-attr]
    headers = {"Authorization": f"Bearer {token}", **OCI}
    assert httpx.get(f"{server.url}/v2/{a}/app/manifests/v1", headers=headers).status_code \
        == 200
    denied = httpx.get(f"{server.url}/v2/{b}/app/manifests/v1", headers=headers)
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["message"] == "requested access to the resource is denied"
    # The same with the robot's Basic credentials straight on /v2.
    assert httpx.get(f"{server.url}/v2/{b}/app/manifests/v1", auth=robot.auth).status_code \
        == 403


def test_expired_credentials_say_token_expired(server: WharfServer, client: httpx.Client,
                                               projects: tuple[str, str]) -> None:
    a = projects[0]
    token = create_token(client, a, "puller", ttl="1s")
    robot = create_robot(client, a, unique("r"), "puller", expires="1s")
    time.sleep(1.5)
    for auth in (token.auth, robot.auth):
        resp = registry_token(server.url, auth, f"repository:{a}/app:pull")
        assert resp.status_code == 401
        assert resp.json()["errors"][0]["message"] == "token expired"
        direct = httpx.get(f"{server.url}/v2/{a}/app/tags/list", auth=auth)
        assert direct.status_code == 401
        assert direct.json()["errors"][0]["message"] == "token expired"


def test_api_token_lifecycle(server: WharfServer, client: httpx.Client,
                             projects: tuple[str, str]) -> None:
    a = projects[0]
    api(client, "POST", f"/projects/{a}/tokens", json={"role": "puller", "ttl": "91d"},
        expect=400)
    token = create_token(client, a, "pusher", ttl="90d")
    assert token.password.startswith("wharf_")
    with httpx.Client(base_url=server.url, auth=("whatever", token.password)) as c:
        assert c.get(f"/v2/{a}/app/tags/list").status_code == 200
    rotated = api(client, "POST", f"/tokens/{token.data['id']}/rotate", json={"ttl": "7d"})
    assert rotated["token"] != token.password
    assert httpx.get(f"{server.url}/v2/{a}/app/tags/list", auth=token.auth).status_code == 401
    assert httpx.get(f"{server.url}/v2/{a}/app/tags/list",
                     auth=("x", rotated["token"])).status_code == 200
    api(client, "POST", f"/tokens/{token.data['id']}/revoke")
    resp = httpx.get(f"{server.url}/v2/{a}/app/tags/list", auth=("x", rotated["token"]))
    assert resp.status_code == 401
    assert "revoked" in resp.json()["errors"][0]["message"]
    listed = api(client, "GET", f"/projects/{a}/tokens")["tokens"]
    mine = next(t for t in listed if t["id"] == token.data["id"])
    assert mine["revoked"] is True
    assert "token" not in mine


def test_robot_rotation_and_disable(server: WharfServer, client: httpx.Client,
                                    projects: tuple[str, str]) -> None:
    a = projects[0]
    name = unique("r")
    robot = create_robot(client, a, name, "puller")
    assert robot.username == f"robot${a}+{name}"
    assert httpx.get(f"{server.url}/v2/{a}/app/tags/list", auth=robot.auth).status_code == 200
    rotated = api(client, "POST", f"/projects/{a}/robots/{name}/rotate", json={})
    assert httpx.get(f"{server.url}/v2/{a}/app/tags/list", auth=robot.auth).status_code == 401
    new_auth = (robot.username, rotated["secret"])
    assert httpx.get(f"{server.url}/v2/{a}/app/tags/list", auth=new_auth).status_code == 200
    api(client, "POST", f"/projects/{a}/robots/{name}/disable")
    resp = httpx.get(f"{server.url}/v2/{a}/app/tags/list", auth=new_auth)
    assert resp.status_code == 401
    assert "disabled" in resp.json()["errors"][0]["message"]
    listed = api(client, "GET", f"/projects/{a}/robots")["robots"]
    assert all("secret" not in r for r in listed)


def test_failed_logins_are_rate_limited_and_audited(server: WharfServer,
                                                    client: httpx.Client) -> None:
    username = unique("victim")
    password = create_user(client, username)
    for _ in range(10):
        resp = httpx.get(f"{server.url}/v2/", auth=(username, "guess"))
        assert resp.status_code == 401
    limited = httpx.get(f"{server.url}/v2/", auth=(username, "guess"))
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert limited.headers["Retry-After"] == "60"
    # Even the right password waits: that is the point of the limit.
    assert httpx.get(f"{server.url}/v2/", auth=(username, password)).status_code == 429
    assert registry_token(server.url, httpx.BasicAuth(username, password)).status_code == 429
    events = api(client, "GET", "/audit", params={"actor": username, "action": "login"})
    assert len([e for e in events["events"] if e["outcome"] == "failure"]) >= 10
    # Another user from the same address is not affected.
    assert httpx.get(f"{server.url}/v2/", auth=server.auth).status_code == 200


def test_token_issue_and_management_are_audited(server: WharfServer, client: httpx.Client,
                                                projects: tuple[str, str]) -> None:
    bearer(server.url, server.auth, f"repository:{projects[0]}/app:pull")
    events = api(client, "GET", "/audit", params={"limit": 500})["events"]
    actions = {e["action"] for e in events}
    assert {"token.issue", "project.create", "robot.create"} <= actions


def test_push_into_missing_project_is_denied(server: WharfServer, client: httpx.Client) -> None:
    ghost = unique("ghost")
    resp = client.post(f"/v2/{ghost}/app/blobs/uploads/")
    assert resp.status_code == 403
    assert resp.json()["errors"][0]["code"] == "DENIED"
    # The admin learns why; nobody else even learns whether the project exists.
    assert resp.json()["errors"][0]["detail"]["reason"] == "project does not exist"
    username = unique("nobody")
    password = create_user(client, username)
    other = httpx.post(f"{server.url}/v2/{ghost}/app/blobs/uploads/", auth=(username, password))
    assert other.status_code == 403
    assert "detail" not in other.json()["errors"][0]


def test_project_delete_needs_force_when_it_has_repositories(client: httpx.Client) -> None:
    name = unique("del")
    create_project(client, name)
    push_image(client, f"{name}/app", tag="v1")
    api(client, "DELETE", f"/projects/{name}", expect=409)
    api(client, "DELETE", f"/projects/{name}", params={"force": "true"}, expect=204)
    api(client, "GET", f"/projects/{name}", expect=404)
    assert client.get(f"/v2/{name}/app/tags/list").status_code in (403, 404)


def test_public_project_allows_anonymous_pull_only(server: WharfServer,
                                                   client: httpx.Client) -> None:
    name = unique("pub")
    create_project(client, name, public=True)
    image = push_image(client, f"{name}/app", tag="v1")
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get(f"/v2/{name}/app/manifests/v1", headers=OCI).status_code == 200
        assert anon.get(f"/v2/{name}/app/tags/list").json()["tags"] == ["v1"]
        assert anon.post(f"/v2/{name}/app/blobs/uploads/").status_code == 401
        assert f"{name}/app" in anon.get("/v2/_catalog?n=1000").json()["repositories"]
        token = bearer(server.url, None, f"repository:{name}/app:pull,push")
        assert claims_of(token)["access"] == [
            {"type": "repository", "name": f"{name}/app", "actions": ["view", "pull"]}]
        resp = anon.get(f"/v2/{name}/app/manifests/{image.digest}",
                        headers={"Authorization": f"Bearer {token}", **OCI})
        assert resp.status_code == 200


def test_key_rotation_keeps_issued_tokens_valid(server: WharfServer, client: httpx.Client,
                                                projects: tuple[str, str]) -> None:
    a = projects[0]
    before = bearer(server.url, server.auth, f"repository:{a}/app:pull")
    kid = api(client, "POST", "/signing-keys/rotate")["kid"]
    after = bearer(server.url, server.auth, f"repository:{a}/app:pull")
    assert json.loads(base64.urlsafe_b64decode(after.split(".")[0] + "=="))["kid"] == kid
    for token in (before, after):
        resp = httpx.get(f"{server.url}/v2/{a}/app/manifests/v1",
                         headers={"Authorization": f"Bearer {token}", **OCI})
        assert resp.status_code == 200
    kids = {k["kid"] for k in httpx.get(f"{server.url}/auth/jwks.json").json()["keys"]}
    assert kid in kids
    assert len(kids) >= 2


def test_openapi_document(server: WharfServer) -> None:
    doc = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    assert "post" in paths["/api/v1/projects"]
    assert "post" in paths["/api/v1/projects/{project}/robots"]
    assert "post" in paths["/api/v1/projects/{project}/tokens"]
    assert "RobotCreate" in doc["components"]["schemas"]


def test_expired_registry_token_asks_for_a_new_one(server: WharfServer,
                                                   projects: tuple[str, str]) -> None:
    """Signed with the server's own current key (read from its database), but expired."""
    from cryptography.hazmat.primitives import serialization

    from wharf.metadata.engine import make_engine
    from wharf.metadata.iam_store import IamStore

    engine = make_engine(f"sqlite:///{server.data_dir.resolve() / 'wharf.db'}")
    try:
        row = next(k for k in IamStore(engine).list_keys() if k.retired_at is None)
    finally:
        engine.dispose()
    key = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
    a = projects[0]
    claims = {"sub": "admin", "iss": "wharf", "aud": "wharf", "iat": 1_000, "exp": 2_000,
              "wharf_typ": "access", "wharf_ref": "user:1",
              "access": [{"type": "repository", "name": f"{a}/app", "actions": ["pull"]}]}
    token = jwt.encode(claims, key, algorithm="ES256",  # type: ignore[arg-type]
                       headers={"kid": row.kid})
    resp = httpx.get(f"{server.url}/v2/{a}/app/manifests/v1",
                     headers={"Authorization": f"Bearer {token}", **OCI})
    assert resp.status_code == 401
    assert resp.json()["errors"][0]["message"] == "token expired"
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    valid = jwt.encode({**claims, "iat": int(time.time()), "exp": int(time.time()) + 60},
                       key, algorithm="ES256", headers={"kid": row.kid})  # type: ignore[arg-type]
    assert httpx.get(f"{server.url}/v2/{a}/app/manifests/v1",
                     headers={"Authorization": f"Bearer {valid}", **OCI}).status_code == 200


def test_mount_needs_pull_on_the_source(server: WharfServer, client: httpx.Client,
                                        projects: tuple[str, str]) -> None:
    a, b = projects
    source = client.get(f"/v2/{b}/app/manifests/v1", headers=OCI).json()["config"]["digest"]
    robot = create_robot(client, a, unique("m"), "pusher")
    with httpx.Client(base_url=server.url, auth=robot.auth) as c:
        resp = c.post(f"/v2/{a}/mounted/blobs/uploads/",
                      params={"mount": source, "from": f"{b}/app"})
        assert resp.status_code == 202, resp.text
        assert c.head(f"/v2/{a}/mounted/blobs/{source}").status_code == 404
    # The administrator may pull from B, so the same mount links the blob.
    resp = client.post(f"/v2/{a}/mounted/blobs/uploads/",
                       params={"mount": source, "from": f"{b}/app"})
    assert resp.status_code == 201, resp.text
