"""`podman login` through the token flow with an API token and a robot, then push and
pull; a project the credentials have no role in is refused."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.interop.clients import ContainerTool
from tests.support.iam import create_project, create_robot, create_token, unique
from tests.support.images import build_single_arch
from tests.support.server import WharfServer

pytestmark = pytest.mark.interop


def _login(podman: ContainerTool, server: WharfServer, username: str, secret: str) -> None:
    result = podman.unchecked("login", "--tls-verify=false", "--username", username,
                              "--password", secret, server.host)
    assert result.returncode == 0, result.stderr
    auths = json.loads(podman.config.auth_file.read_text())["auths"]
    assert server.host in auths


@pytest.mark.parametrize("kind", ["api-token", "robot"])
def test_podman_login_push_pull(server: WharfServer, client: httpx.Client,
                                podman: ContainerTool, salt: str, tmp_path: Path,
                                kind: str) -> None:
    project = unique("pod")
    create_project(client, project)
    if kind == "robot":
        secret = create_robot(client, project, "ci", "pusher")
    else:
        secret = create_token(client, project, "pusher", ttl="7d")
    layout = build_single_arch(tmp_path / "src", salt)
    loaded = podman.unchecked("pull", podman.policy_flag, "--quiet", layout.ref)
    if loaded.returncode != 0:
        pytest.skip(f"podman cannot load an OCI layout here: {loaded.stderr.strip()}")
    image_id = loaded.stdout.strip().splitlines()[-1]
    _login(podman, server, secret.username, secret.password)
    target = f"{server.host}/{project}/app:1"
    podman("push", podman.policy_flag, "--tls-verify=false", "--quiet", image_id,
           f"docker://{target}")
    fresh = podman.fresh("fresh")
    pulled = fresh("pull", fresh.policy_flag, "--tls-verify=false", "--quiet", target)
    assert pulled.stdout.strip() == image_id
    elsewhere = podman.unchecked("push", podman.policy_flag, "--tls-verify=false", image_id,
                                 f"docker://{server.host}/conf/{unique('x')}:1")
    assert elsewhere.returncode != 0
    # A HEAD has no body to say `denied`; the status says the same.
    assert "denied" in elsewhere.stderr or "403 (Forbidden)" in elsewhere.stderr
