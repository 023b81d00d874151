"""Setting up principals through /api/v1 for tests: users, members, robots, API tokens,
and registry tokens from /auth/token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def api(client: httpx.Client, method: str, path: str, expect: int | tuple[int, ...] = (200, 201),
        **kwargs: Any) -> Any:
    resp = client.request(method, f"/api/v1{path}", **kwargs)
    wanted = (expect,) if isinstance(expect, int) else expect
    assert resp.status_code in wanted, f"{method} {path}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def create_project(admin: httpx.Client, name: str, public: bool = False) -> None:
    api(admin, "POST", "/projects", json={"name": name, "public": public}, expect=201)


def create_user(admin: httpx.Client, username: str, password: str = "password-1234") -> str:
    api(admin, "POST", "/users", json={"username": username, "password": password}, expect=201)
    return password


def add_member(admin: httpx.Client, project: str, username: str, role: str) -> None:
    api(admin, "POST", f"/projects/{project}/members",
        json={"username": username, "role": role}, expect=201)


@dataclass(frozen=True)
class Secret:
    username: str
    password: str
    data: dict[str, Any]

    @property
    def auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.username, self.password)


def create_robot(admin: httpx.Client, project: str, name: str, role: str,
                 expires: str | None = None) -> Secret:
    data = api(admin, "POST", f"/projects/{project}/robots",
               json={"name": name, "role": role, "expires": expires}, expect=201)
    return Secret(data["name"], data["secret"], data)


def create_token(owner: httpx.Client, project: str, role: str, ttl: str = "1d") -> Secret:
    data = api(owner, "POST", f"/projects/{project}/tokens", json={"role": role, "ttl": ttl},
               expect=201)
    # Any username goes with an API token.
    return Secret("ci", data["token"], data)


def registry_token(base_url: str, auth: httpx.Auth | None, *scopes: str,
                   service: str = "wharf") -> httpx.Response:
    params = [("service", service), *(("scope", s) for s in scopes)]
    return httpx.get(f"{base_url}/auth/token", params=params, auth=auth, timeout=30)


def bearer(base_url: str, auth: httpx.Auth | None, *scopes: str) -> str:
    resp = registry_token(base_url, auth, *scopes)
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["token"]
    return token
