"""Real clients through the token flow: `skopeo login`, then push and pull as a robot
account and with an API token; anonymous pull of a public project; a denied push says
`denied` (the body says `requested access to the resource is denied`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.iam import create_project, create_robot, create_token, unique
from tests.support.images import build_single_arch
from tests.support.server import WharfServer


@dataclass
class Skopeo:
    exe: str
    home: Path

    @property
    def authfile(self) -> Path:
        return self.home / "auth.json"

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        policy = self.home / "policy.json"
        if not policy.exists():
            policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
               "REGISTRY_AUTH_FILE": str(self.authfile), "TMPDIR": str(self.home)}
        return subprocess.run([self.exe, "--policy", str(policy), *args], input=stdin,
                              capture_output=True, text=True, env=env, timeout=180,
                              check=False)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, f"skopeo {' '.join(args)}: {result.stderr}"
        return result.stdout


@pytest.fixture
def skopeo(tmp_path: Path) -> Skopeo:
    exe = shutil.which("skopeo")
    if exe is None:
        pytest.skip("skopeo is not installed")
    home = tmp_path / "skopeo-home"
    home.mkdir()
    return Skopeo(exe, home)


@pytest.fixture(scope="module")
def project(server: WharfServer) -> str:
    name = unique("cli")
    with httpx.Client(base_url=server.url, auth=server.auth, timeout=30) as admin:
        create_project(admin, name)
    return name


def _login(skopeo: Skopeo, server: WharfServer, username: str, password: str) -> None:
    out = skopeo.run("login", "--tls-verify=false", "--username", username,
                     "--password-stdin", server.host, stdin=password + "\n")
    assert out.returncode == 0, out.stderr
    assert "Login Succeeded" in out.stdout
    assert server.host in json.loads(skopeo.authfile.read_text())["auths"]


def _push_pull(skopeo: Skopeo, server: WharfServer, repo: str, tmp_path: Path) -> None:
    layout = build_single_arch(tmp_path / uuid.uuid4().hex, uuid.uuid4().hex)
    ref = f"docker://{server.host}/{repo}:1"
    skopeo.ok("copy", "--dest-tls-verify=false", layout.ref, ref)
    raw = skopeo.ok("inspect", "--raw", "--tls-verify=false", ref)
    assert json.loads(raw)["schemaVersion"] == 2
    skopeo.ok("copy", "--src-tls-verify=false", ref, f"oci:{tmp_path / 'pulled'}:1")
    assert "1" in skopeo.ok("list-tags", "--tls-verify=false",
                            f"docker://{server.host}/{repo}")


def test_robot_login_push_pull(skopeo: Skopeo, server: WharfServer, client: httpx.Client,
                               project: str, tmp_path: Path) -> None:
    robot = create_robot(client, project, unique("ci"), "pusher")
    _login(skopeo, server, robot.username, robot.password)
    _push_pull(skopeo, server, f"{project}/robot-app", tmp_path)


def test_api_token_login_push_pull(skopeo: Skopeo, server: WharfServer, client: httpx.Client,
                                   project: str, tmp_path: Path) -> None:
    token = create_token(client, project, "pusher", ttl="30d")
    _login(skopeo, server, "serviceaccount", token.password)
    _push_pull(skopeo, server, f"{project}/token-app", tmp_path)


def test_bad_password_login_fails(skopeo: Skopeo, server: WharfServer) -> None:
    out = skopeo.run("login", "--tls-verify=false", "--username", unique("nobody"),
                     "--password-stdin", server.host, stdin="wrong\n")
    assert out.returncode != 0


def test_puller_cannot_push_and_is_told_so(skopeo: Skopeo, server: WharfServer,
                                           client: httpx.Client, project: str,
                                           tmp_path: Path) -> None:
    robot = create_robot(client, project, unique("ro"), "puller")
    _login(skopeo, server, robot.username, robot.password)
    layout = build_single_arch(tmp_path / "img", uuid.uuid4().hex)
    out = skopeo.run("copy", "--dest-tls-verify=false", layout.ref,
                     f"docker://{server.host}/{project}/nope:1")
    assert out.returncode != 0
    # skopeo shows the error code (`denied`); docker shows code and message.
    assert "denied" in out.stderr


def test_anonymous_pull_of_public_project(skopeo: Skopeo, server: WharfServer,
                                          client: httpx.Client, tmp_path: Path) -> None:
    public = unique("pub")
    create_project(client, public, public=True)
    robot = create_robot(client, public, "ci", "pusher")
    pusher = Skopeo(skopeo.exe, tmp_path / "pusher-home")
    pusher.home.mkdir()
    _login(pusher, server, robot.username, robot.password)
    layout = build_single_arch(tmp_path / "img", uuid.uuid4().hex)
    pusher.ok("copy", "--dest-tls-verify=false", layout.ref,
              f"docker://{server.host}/{public}/app:1")
    # A client that never logged in pulls through an anonymous token.
    skopeo.authfile.write_text(json.dumps({"auths": {}}))
    skopeo.ok("copy", "--src-tls-verify=false", f"docker://{server.host}/{public}/app:1",
              f"oci:{tmp_path / 'pulled'}:1")
    out = skopeo.run("copy", "--dest-tls-verify=false", layout.ref,
                     f"docker://{server.host}/{public}/app:2")
    assert out.returncode != 0
