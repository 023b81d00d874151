"""The authorization matrix: every kind of caller, crossed with every /v2 and /api/v1 route.

Callers: anonymous; the system administrator; users holding each project role in project
A; a user with no role; a robot and an API token of A; a robot of another project; and
broken credentials (expired token, revoked token, disabled robot, expired robot). The
expected outcome of every cell is derived from the role ladder, not listed by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support.iam import (
    add_member,
    api,
    bearer,
    create_project,
    create_robot,
    create_token,
    create_user,
    unique,
)
from tests.support.oci import push_blob, push_image, put_manifest, random_bytes, sha256
from tests.support.server import WharfServer

ROLE_ACTIONS = {
    None: set(),
    "viewer": {"view"},
    "puller": {"view", "pull"},
    "pusher": {"view", "pull", "push"},
    "admin": {"view", "pull", "push", "delete"},
}
BROKEN = ("expired_token", "revoked_token", "disabled_robot", "expired_robot")


@dataclass
class Caller:
    name: str
    auth: httpx.Auth | None
    role: str | None = None          # role in project A
    kind: str = "user"               # user | robot | token | anonymous | broken | sysadmin


@dataclass
class World:
    server: WharfServer
    admin: httpx.Client
    project: str
    other: str
    repo: str
    image_digest: str
    callers: dict[str, Caller] = field(default_factory=dict)
    pusher: httpx.Client | None = None
    bearer_cache: dict[str, str | None] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(server: WharfServer) -> World:
    admin = httpx.Client(base_url=server.url, auth=server.auth, timeout=30)
    project, other = unique("mxa"), unique("mxb")
    create_project(admin, project)
    create_project(admin, other)
    repo = f"{project}/app"
    image = push_image(admin, repo, tag="v1")
    push_image(admin, f"{other}/app", tag="v1")
    w = World(server, admin, project, other, repo, image.digest)
    w.callers["anonymous"] = Caller("anonymous", None, kind="anonymous")
    w.callers["sysadmin"] = Caller("sysadmin", server.auth, "admin", kind="sysadmin")
    for role in ("viewer", "puller", "pusher", "admin"):
        username = unique(f"mx{role}")
        password = create_user(admin, username)
        add_member(admin, project, username, role)
        w.callers[role] = Caller(role, httpx.BasicAuth(username, password), role)
    outsider = unique("mxout")
    w.callers["outsider"] = Caller("outsider", httpx.BasicAuth(outsider,
                                                               create_user(admin, outsider)))
    w.callers["robot"] = Caller("robot", create_robot(admin, project, "ci", "pusher").auth,
                                "pusher", kind="robot")
    w.callers["robot_other_project"] = Caller(
        "robot_other_project", create_robot(admin, other, "ci", "pusher").auth, kind="robot")
    pusher = httpx.Client(base_url=server.url, auth=w.callers["pusher"].auth, timeout=30)
    w.pusher = pusher
    w.callers["token"] = Caller("token", create_token(pusher, project, "puller").auth,
                                "puller", kind="token")
    revoked = create_token(pusher, project, "pusher")
    api(pusher, "POST", f"/tokens/{revoked.data['id']}/revoke")
    disabled = create_robot(admin, project, "off", "pusher")
    api(admin, "POST", f"/projects/{project}/robots/off/disable")
    expired_token = create_token(pusher, project, "pusher", ttl="1s")
    expired_robot = create_robot(admin, project, "old", "pusher", expires="1s")
    for name, secret in (("revoked_token", revoked), ("disabled_robot", disabled),
                         ("expired_token", expired_token), ("expired_robot", expired_robot)):
        w.callers[name] = Caller(name, secret.auth, kind="broken")
    time.sleep(1.5)
    return w


# -- /v2 ------------------------------------------------------------------------------

@dataclass(frozen=True)
class V2Route:
    name: str
    action: str   # login | catalog | view | pull | push | delete
    send: Callable[[World, httpx.Client], httpx.Response]


def _fresh_session(w: World) -> str:
    resp = w.admin.post(f"/v2/{w.repo}/blobs/uploads/")
    assert resp.status_code == 202, resp.text
    return str(resp.headers["Location"])


def _fresh_tag(w: World) -> str:
    tag = unique("t")
    assert put_manifest(w.admin, w.repo, tag, _body(w)).status_code == 201
    return tag


def _put_blob(w: World, c: httpx.Client) -> httpx.Response:
    data = random_bytes(64)
    return c.post(f"/v2/{w.repo}/blobs/uploads/", params={"digest": sha256(data)}, content=data)


V2_ROUTES = [
    V2Route("version", "login", lambda w, c: c.get("/v2/")),
    V2Route("catalog", "catalog", lambda w, c: c.get("/v2/_catalog")),
    V2Route("tags", "view", lambda w, c: c.get(f"/v2/{w.repo}/tags/list")),
    V2Route("get_manifest", "pull", lambda w, c: c.get(
        f"/v2/{w.repo}/manifests/v1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})),
    V2Route("head_manifest", "pull", lambda w, c: c.head(
        f"/v2/{w.repo}/manifests/{w.image_digest}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})),
    V2Route("get_blob", "pull", lambda w, c: c.get(f"/v2/{w.repo}/blobs/{_config(w)}")),
    V2Route("head_blob", "pull", lambda w, c: c.head(f"/v2/{w.repo}/blobs/{_config(w)}")),
    V2Route("referrers", "pull", lambda w, c: c.get(
        f"/v2/{w.repo}/referrers/{w.image_digest}")),
    V2Route("start_upload", "push", lambda w, c: c.post(f"/v2/{w.repo}/blobs/uploads/")),
    V2Route("monolithic_upload", "push", _put_blob),
    V2Route("upload_status", "push", lambda w, c: c.get(_fresh_session(w))),
    V2Route("patch_upload", "push", lambda w, c: c.patch(_fresh_session(w), content=b"x")),
    V2Route("finish_upload", "push", lambda w, c: c.put(
        _fresh_session(w), params={"digest": sha256(b"y")}, content=b"y")),
    V2Route("cancel_upload", "push", lambda w, c: c.delete(_fresh_session(w))),
    V2Route("put_manifest", "push", lambda w, c: put_manifest(c, w.repo, unique("p"), _body(w))),
    V2Route("delete_tag", "delete", lambda w, c: c.delete(
        f"/v2/{w.repo}/manifests/{_fresh_tag(w)}")),
    V2Route("delete_blob", "delete", lambda w, c: c.delete(
        f"/v2/{w.repo}/blobs/{push_blob(w.admin, w.repo, random_bytes(32))}")),
]


def _body(w: World) -> bytes:
    resp = w.admin.get(f"/v2/{w.repo}/manifests/v1",
                       headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    return resp.content


def _config(w: World) -> str:
    digest: str = httpx.Response(200, content=_body(w)).json()["config"]["digest"]
    return digest


# Modules whose every route this matrix covers (other capabilities test their own routes).
MATRIX_MODULES = {f"wharf.api.mgmt.{m}" for m in ("projects", "members", "robots", "tokens",
                                                  "users", "oidc", "audit", "openapi")} | {
    f"wharf.api.v2.{m}" for m in ("base", "blobs", "listings", "manifests", "uploads")}
# The /v2 handlers the routes above exercise.
V2_HANDLERS = {"version_check", "catalog", "list_tags", "get_manifest", "get_blob", "referrers",
               "start_upload", "upload_status", "patch_upload", "finish_upload",
               "cancel_upload", "put_manifest", "delete_manifest", "delete_blob"}


def expected_v2(caller: Caller, action: str, mode: str) -> str:
    """allow | challenge (401 with Bearer challenge) | denied (403) | broken (401)."""
    if caller.kind == "broken":
        return "broken"
    # An anonymous registry token is a valid token: it passes the version check.
    if action == "catalog" or (action == "login" and mode == "bearer"):
        return "allow"
    if caller.kind == "anonymous":
        return "challenge"
    if action == "login" or action in ROLE_ACTIONS[caller.role]:
        return "allow"
    return "denied"


def _client(w: World, caller: Caller, mode: str) -> httpx.Client:
    if mode == "basic" or caller.kind == "broken":
        return httpx.Client(base_url=w.server.url, auth=caller.auth, timeout=30)
    if caller.name not in w.bearer_cache:
        scopes = (f"repository:{w.repo}:pull,push,delete", "registry:catalog:*")
        w.bearer_cache[caller.name] = bearer(w.server.url, caller.auth, *scopes)
    token = w.bearer_cache[caller.name]
    return httpx.Client(base_url=w.server.url, timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def check_v2(resp: httpx.Response, expected: str, caller: Caller) -> None:
    where = f"{resp.request.method} {resp.request.url.path} as {caller.name}"
    if expected == "allow":
        assert resp.status_code < 300, f"{where}: {resp.status_code} {resp.text}"
    elif expected == "challenge":
        assert resp.status_code == 401, f"{where}: {resp.status_code} {resp.text}"
        challenge = resp.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="http://127.0.0.1:')
        assert 'service="wharf"' in challenge
    elif expected == "denied":
        assert resp.status_code == 403, f"{where}: {resp.status_code} {resp.text}"
        if resp.request.method != "HEAD":
            error = resp.json()["errors"][0]
            assert error["code"] == "DENIED"
            assert error["message"] == "requested access to the resource is denied"
    else:
        assert resp.status_code == 401, f"{where}: {resp.status_code} {resp.text}"
        if caller.name.startswith("expired") and resp.request.method != "HEAD":
            assert "token expired" in resp.text


CALLERS = ["anonymous", "sysadmin", "viewer", "puller", "pusher", "admin", "outsider",
           "robot", "token", "robot_other_project", *BROKEN]


@pytest.mark.parametrize("mode", ["basic", "bearer"])
@pytest.mark.parametrize("route", V2_ROUTES, ids=[r.name for r in V2_ROUTES])
@pytest.mark.parametrize("caller_name", CALLERS)
def test_v2_matrix(world: World, caller_name: str, route: V2Route, mode: str) -> None:
    caller = world.callers[caller_name]
    with _client(world, caller, mode) as c:
        resp = route.send(world, c)
    check_v2(resp, expected_v2(caller, route.action, mode), caller)


def test_catalog_lists_only_what_the_caller_may_see(world: World) -> None:
    def catalog(caller: str) -> set[str]:
        with _client(world, world.callers[caller], "basic") as c:
            resp = c.get("/v2/_catalog", params={"n": 1000})
        return set(resp.json()["repositories"])

    mine, theirs = world.repo, f"{world.other}/app"
    assert {mine, theirs} <= catalog("sysadmin")
    for caller in ("viewer", "puller", "robot", "token"):
        seen = catalog(caller)
        assert mine in seen
        assert theirs not in seen
    assert mine not in catalog("outsider")
    assert theirs in catalog("robot_other_project")
    assert mine not in catalog("anonymous")


def test_unknown_and_forbidden_look_the_same(world: World) -> None:
    outsider = world.callers["outsider"]
    with _client(world, outsider, "basic") as c:
        exists = c.get(f"/v2/{world.repo}/manifests/v1")
        missing_repo = c.get(f"/v2/{world.project}/nothing-here/manifests/v1")
        missing_project = c.get(f"/v2/{unique('ghost')}/app/manifests/v1")
    assert exists.status_code == missing_repo.status_code == missing_project.status_code == 403
    assert exists.json() == missing_repo.json() == missing_project.json()
    with httpx.Client(base_url=world.server.url) as anon:
        a = anon.get(f"/v2/{world.repo}/manifests/v1")
        b = anon.get(f"/v2/{unique('ghost')}/app/manifests/v1")
    assert a.status_code == b.status_code == 401


# -- /api/v1 --------------------------------------------------------------------------

@dataclass(frozen=True)
class ApiRoute:
    name: str
    rule: str   # auth | see | project_admin | user_token | owner | sysadmin | throwaway_admin
    send: Callable[[World, httpx.Client], httpx.Response]


def _throwaway(w: World) -> str:
    """A project with the same user members as A (robots and tokens belong to A only)."""
    name = unique("mxt")
    create_project(w.admin, name)
    for member in api(w.admin, "GET", f"/projects/{w.project}/members")["members"]:
        add_member(w.admin, name, member["username"], member["role"])
    return name


def _spare_member(w: World) -> str:
    username = unique("mxspare")
    create_user(w.admin, username)
    add_member(w.admin, w.project, username, "viewer")
    return username


def _pusher_token(w: World) -> str:
    assert w.pusher is not None
    token = create_token(w.pusher, w.project, "viewer")
    return str(token.data["id"])


def _robot(w: World) -> str:
    name = unique("r")
    create_robot(w.admin, w.project, name, "puller")
    return name


JWKS = {"keys": [{"kty": "EC", "crv": "P-256", "kid": "x",
                  "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                  "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}

API_ROUTES = [
    ApiRoute("whoami", "auth", lambda w, c: c.get("/api/v1/me")),
    ApiRoute("list_projects", "auth", lambda w, c: c.get("/api/v1/projects")),
    ApiRoute("create_project", "sysadmin", lambda w, c: c.post(
        "/api/v1/projects", json={"name": unique("mxc")})),
    ApiRoute("get_project", "see", lambda w, c: c.get(f"/api/v1/projects/{w.project}")),
    ApiRoute("update_project", "project_admin", lambda w, c: c.patch(
        f"/api/v1/projects/{w.project}", json={"public": False})),
    ApiRoute("delete_project", "throwaway_admin", lambda w, c: c.delete(
        f"/api/v1/projects/{_throwaway(w)}")),
    ApiRoute("list_members", "see", lambda w, c: c.get(
        f"/api/v1/projects/{w.project}/members")),
    ApiRoute("add_member", "project_admin", lambda w, c: c.post(
        f"/api/v1/projects/{w.project}/members",
        json={"username": _spare_member(w), "role": "puller"})),
    ApiRoute("remove_member", "project_admin", lambda w, c: c.delete(
        f"/api/v1/projects/{w.project}/members/{_spare_member(w)}")),
    ApiRoute("list_robots", "project_admin", lambda w, c: c.get(
        f"/api/v1/projects/{w.project}/robots")),
    ApiRoute("create_robot", "project_admin", lambda w, c: c.post(
        f"/api/v1/projects/{w.project}/robots", json={"name": unique("r"), "role": "puller"})),
    ApiRoute("disable_robot", "project_admin", lambda w, c: c.post(
        f"/api/v1/projects/{w.project}/robots/{_robot(w)}/disable")),
    ApiRoute("enable_robot", "project_admin", lambda w, c: c.post(
        f"/api/v1/projects/{w.project}/robots/{_robot(w)}/enable")),
    ApiRoute("rotate_robot", "project_admin", lambda w, c: c.post(
        f"/api/v1/projects/{w.project}/robots/{_robot(w)}/rotate", json={})),
    ApiRoute("delete_robot", "project_admin", lambda w, c: c.delete(
        f"/api/v1/projects/{w.project}/robots/{_robot(w)}")),
    ApiRoute("list_tokens", "see", lambda w, c: c.get(f"/api/v1/projects/{w.project}/tokens")),
    ApiRoute("create_token", "user_token", lambda w, c: c.post(
        f"/api/v1/projects/{w.project}/tokens", json={"role": "viewer", "ttl": "1d"})),
    ApiRoute("revoke_token", "owner", lambda w, c: c.post(
        f"/api/v1/tokens/{_pusher_token(w)}/revoke")),
    ApiRoute("rotate_token", "owner", lambda w, c: c.post(
        f"/api/v1/tokens/{_pusher_token(w)}/rotate", json={})),
    ApiRoute("list_users", "sysadmin", lambda w, c: c.get("/api/v1/users")),
    ApiRoute("create_user", "sysadmin", lambda w, c: c.post(
        "/api/v1/users", json={"username": unique("u"), "password": "long-enough-pw"})),
    ApiRoute("disable_user", "sysadmin", lambda w, c: c.post(
        f"/api/v1/users/{_spare_member(w)}/disable")),
    ApiRoute("list_issuers", "sysadmin", lambda w, c: c.get("/api/v1/oidc/issuers")),
    ApiRoute("create_issuer", "sysadmin", lambda w, c: c.post(
        "/api/v1/oidc/issuers", json={"name": unique("i"), "issuer": "https://x",
                                      "jwks": JWKS})),
    ApiRoute("delete_issuer", "sysadmin", lambda w, c: c.delete(
        f"/api/v1/oidc/issuers/{_issuer(w)}")),
    ApiRoute("list_mappings", "sysadmin", lambda w, c: c.get("/api/v1/oidc/mappings")),
    ApiRoute("create_mapping", "sysadmin", lambda w, c: c.post(
        "/api/v1/oidc/mappings", json={"issuer": _issuer(w), "project": w.project,
                                       "role": "puller", "namespace": "x"})),
    ApiRoute("delete_mapping", "sysadmin", lambda w, c: c.delete(
        f"/api/v1/oidc/mappings/{_mapping(w)}")),
    ApiRoute("list_keys", "sysadmin", lambda w, c: c.get("/api/v1/signing-keys")),
    ApiRoute("rotate_key", "sysadmin", lambda w, c: c.post("/api/v1/signing-keys/rotate")),
    ApiRoute("list_events", "sysadmin", lambda w, c: c.get("/api/v1/audit")),
]


def _issuer(w: World) -> str:
    name = unique("i")
    api(w.admin, "POST", "/oidc/issuers", json={"name": name, "issuer": f"https://{name}",
                                                "jwks": JWKS})
    return name


def _mapping(w: World) -> int:
    data = api(w.admin, "POST", "/oidc/mappings", json={
        "issuer": _issuer(w), "project": w.project, "role": "puller", "namespace": "x"})
    return int(data["id"])


def expected_api(caller: Caller, rule: str) -> int | tuple[int, ...]:
    if caller.kind in ("anonymous", "broken"):
        return 401
    if caller.kind == "sysadmin":
        return (200, 201, 204)
    role = caller.role
    rank = [None, "viewer", "puller", "pusher", "admin"].index(role)
    if rule == "auth":
        return 200
    if rule == "sysadmin":
        return 403
    if rule == "see":
        return 200 if role else 404
    if rule == "project_admin":
        return (200, 201, 204) if role == "admin" else 403 if role else 404
    if rule == "throwaway_admin":
        if caller.kind != "user" or not role:
            return 404
        return 204 if role == "admin" else 403
    if rule == "user_token":
        if not role:
            return 404
        return 201 if caller.kind == "user" and rank >= 1 else 403
    if rule == "owner":
        # Tokens are owned by the pusher user; project admins manage everyone's.
        return 200 if caller.name in ("pusher", "admin") else 404
    raise AssertionError(rule)


@pytest.mark.parametrize("route", API_ROUTES, ids=[r.name for r in API_ROUTES])
@pytest.mark.parametrize("caller_name", CALLERS)
def test_api_matrix(world: World, caller_name: str, route: ApiRoute) -> None:
    caller = world.callers[caller_name]
    with httpx.Client(base_url=world.server.url, auth=caller.auth, timeout=30) as c:
        resp = route.send(world, c)
    expected = expected_api(caller, route.rule)
    wanted = expected if isinstance(expected, tuple) else (expected,)
    assert resp.status_code in wanted, \
        f"{route.name} as {caller_name}: {resp.status_code} {resp.text}"
    if resp.status_code == 403:
        assert resp.json()["errors"][0]["code"] == "DENIED"
    if resp.status_code == 401:
        assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_every_route_is_in_the_matrix(server: WharfServer) -> None:
    """A new /v2 or /api/v1 route must be added to the matrix above."""
    from wharf.api.routes import ROUTES

    covered = {r.name for r in API_ROUTES} | {"openapi"} | V2_HANDLERS
    names = {route.endpoint.__name__ for route in ROUTES  # type: ignore[attr-defined]
             if route.endpoint.__module__ in MATRIX_MODULES}  # type: ignore[attr-defined]
    assert names - covered == set()
