"""require-signed end to end: skopeo pushes and pulls, the CLI generates keys, signs,
verifies and sets the policy, exactly as a CI pipeline and a cluster would."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.images import build_multi_arch, build_single_arch
from tests.support.scanning import Cli, cli, push, requires_skopeo, unique
from tests.support.server import WharfServer
from tests.support.signing import (
    KeyPair,
    generate_key,
    new_project,
    pull,
    puller,
    run_cli,
)
from wharf.signatures import keys

__all__ = ["cli"]
pytestmark = requires_skopeo
MESSAGE = "image is not signed by trusted key"
ACCEPT = {"Accept": "application/vnd.oci.image.manifest.v1+json, "
                    "application/vnd.oci.image.index.v1+json"}


@pytest.fixture(scope="module")
def keypair(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return generate_key(cli, tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def stranger(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return generate_key(cli, tmp_path_factory.mktemp("other"), "other")


def _push_image(server: WharfServer, tmp_path: Path, target: str, multi: bool = False) -> str:
    build = build_multi_arch if multi else build_single_arch
    layout = build(tmp_path / unique("layout"), unique("salt"))
    if multi:
        result = subprocess.run(
            ["skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false", "--dest-creds",
             f"admin:{server.admin_password}", "--retry-times", "0", layout.ref,
             f"docker://{server.host}/{target}"], capture_output=True, text=True,
            timeout=300, check=False)
    else:
        result = push(server, layout.ref, target)
    assert result.returncode == 0, result.stderr
    return layout.digest


def test_require_signed_end_to_end(server: WharfServer, cli: Cli, client: httpx.Client,
                                   keypair: KeyPair, stranger: KeyPair,
                                   tmp_path: Path) -> None:
    project = new_project(server)
    repo = f"{project}/web"
    shown = cli.run("policy", "set", "--project", project, "--require-signed",
                    "--trusted-key", str(keypair.public))
    assert f"project {project}: require signed: yes; trusted keys: 1" in shown.stdout
    policy = client.get(f"/api/v1/projects/{project}/policy").json()
    # The key's PEM text is stored, not its path.
    assert policy["signatures"]["trusted_keys"][0]["pem"] == keypair.public.read_text()
    digest = _push_image(server, tmp_path, f"{repo}:1.0")
    creds = puller(client, project)

    refused = pull(server, f"{repo}:1.0", tmp_path / "out1", creds)
    assert refused.returncode != 0
    assert MESSAGE in refused.stderr
    resp = httpx.get(f"{server.url}/v2/{repo}/manifests/1.0", headers=ACCEPT,
                     auth=tuple(creds.split(":", 1)))  # type: ignore[arg-type]
    assert resp.status_code == 403
    assert resp.json()["errors"][0] == {
        "code": "DENIED", "message": MESSAGE,
        "detail": {"reason": "signature policy", "digest": digest, "project": project}}

    # A signature by a key the project does not trust does not count.
    run_cli(cli, "image", "sign", "--key", str(stranger.private), f"{repo}:1.0")
    assert MESSAGE in pull(server, f"{repo}:1.0", tmp_path / "out2", creds).stderr

    run_cli(cli, "image", "sign", "--key", str(keypair.private), f"{repo}:1.0")
    allowed = pull(server, f"{repo}:1.0", tmp_path / "out3", creds)
    assert allowed.returncode == 0, allowed.stderr

    # Both signatures live in one cosign `.sig` manifest, as cosign appends them.
    sig_tag = f"sha256-{digest.split(':', 1)[1]}.sig"
    sig = client.get(f"/v2/{repo}/manifests/{sig_tag}", headers=ACCEPT)
    assert sig.status_code == 200
    layers = sig.json()["layers"]
    assert len(layers) == 2
    assert {la["mediaType"] for la in layers} == {
        "application/vnd.dev.cosign.simplesigning.v1+json"}
    payload = client.get(f"/v2/{repo}/blobs/{layers[1]['digest']}").json()
    assert payload == {"critical": {"identity": {"docker-reference": f"{server.host}/{repo}"},
                                    "image": {"docker-manifest-digest": digest},
                                    "type": "cosign container image signature"},
                       "optional": None}

    verified = run_cli(cli, "image", "verify", "--key", str(keypair.public), f"{repo}:1.0")
    assert json.loads(verified.stdout)[0]["critical"]["image"]["docker-manifest-digest"] \
        == digest
    unverified = run_cli(cli, "image", "verify", "--key", str(keypair.public),
                         f"{repo}@{digest}", check=False)
    assert unverified.returncode == 0
    # The stranger's signature verifies with its own key (it is a valid signature, just
    # not one the project trusts); a key that signed nothing does not.
    assert run_cli(cli, "image", "verify", "--key", str(stranger.public),
                   f"{repo}:1.0").returncode == 0
    unused = tmp_path / "unused.pub"
    unused.write_text(keys.public_pem(keys.generate()))
    other = run_cli(cli, "image", "verify", "--key", str(unused), f"{repo}:1.0", check=False)
    assert other.returncode == 1
    assert "no valid signature" in other.stderr

    shown_doc = json.loads(cli.run("image", "show", f"{repo}:1.0", "--json").stdout)
    assert shown_doc["digest"] == digest
    assert shown_doc["signed_by_trusted_key"] is True
    (signature,) = shown_doc["signatures"]  # one .sig manifest holding both signatures
    assert signature["kind"] == "cosign"
    assert signature["tag"] == sig_tag
    assert signature["verified"] is True
    table = cli.run("image", "show", f"{repo}:1.0").stdout
    assert "signed by a trusted key: yes" in table
    assert "valid" in table

    # Tag-scheme signatures are tied to their image (so GC reclaims them with it): each
    # `.sig` manifest pushed, the superseded one too, is a referrer of the digest.
    referrers = client.get(f"/v2/{repo}/referrers/{digest}").json()["manifests"]
    assert sig.headers["docker-content-digest"] in [r["digest"] for r in referrers]
    assert len(referrers) == 2


def test_pushers_may_read_unsigned_images_to_sign_them(
        server: WharfServer, cli: Cli, client: httpx.Client, keypair: KeyPair,
        tmp_path: Path) -> None:
    project = new_project(server)
    cli.run("policy", "set", "--project", project, "--require-signed",
            "--trusted-key", str(keypair.public))
    _push_image(server, tmp_path, f"{project}/app:1")
    admin = pull(server, f"{project}/app:1", tmp_path / "out", f"admin:{server.admin_password}")
    assert admin.returncode == 0, admin.stderr
    # HEAD only tells the digest, which verifiers and admission need: never refused.
    creds = tuple(puller(client, project).split(":", 1))
    head = httpx.head(f"{server.url}/v2/{project}/app/manifests/1", headers=ACCEPT,
                      auth=creds)  # type: ignore[arg-type]
    assert head.status_code == 200


def test_unsigned_pull_without_policy_is_allowed(
        server: WharfServer, client: httpx.Client, tmp_path: Path) -> None:
    project = new_project(server)
    _push_image(server, tmp_path, f"{project}/web:1.0")
    result = pull(server, f"{project}/web:1.0", tmp_path / "out", puller(client, project))
    assert result.returncode == 0, result.stderr


def test_signed_index_covers_its_platform_manifests(
        server: WharfServer, cli: Cli, client: httpx.Client, keypair: KeyPair,
        tmp_path: Path) -> None:
    project = new_project(server)
    cli.run("policy", "set", "--project", project, "--require-signed",
            "--trusted-key", str(keypair.public))
    _push_image(server, tmp_path, f"{project}/multi:2", multi=True)
    creds = puller(client, project)
    assert MESSAGE in pull(server, f"{project}/multi:2", tmp_path / "o1", creds,
                           all_platforms=True).stderr
    run_cli(cli, "image", "sign", "--key", str(keypair.private), f"{project}/multi:2")
    result = pull(server, f"{project}/multi:2", tmp_path / "o2", creds, all_platforms=True)
    assert result.returncode == 0, result.stderr


def test_policy_validation(server: WharfServer, cli: Cli, client: httpx.Client,
                           tmp_path: Path) -> None:
    project = new_project(server)
    result = cli.run("policy", "set", "--project", project, "--require-signed", check=False)
    assert result.returncode != 0
    assert "needs at least one trusted key" in result.stderr
    bad = tmp_path / "bad.pub"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    result = cli.run("policy", "set", "--project", project, "--trusted-key", str(bad),
                     check=False)
    assert result.returncode != 0
    assert "trusted key" in result.stderr
    # Only project admins change it.
    creds = tuple(puller(client, project).split(":", 1))
    resp = httpx.put(f"{server.url}/api/v1/projects/{project}/policy",
                     json={"require_signed": False}, auth=creds)  # type: ignore[arg-type]
    assert resp.status_code in (401, 403)


def test_signed_pull_accounting(server: WharfServer, cli: Cli, client: httpx.Client,
                                keypair: KeyPair, tmp_path: Path) -> None:
    project = new_project(server)
    cli.run("policy", "set", "--project", project, "--trusted-key", str(keypair.public))
    _push_image(server, tmp_path, f"{project}/a:1")
    _push_image(server, tmp_path, f"{project}/b:1")
    run_cli(cli, "image", "sign", "--key", str(keypair.private), f"{project}/a:1")
    for _ in range(3):
        assert client.get(f"/v2/{project}/a/manifests/1", headers=ACCEPT).status_code == 200
    assert client.get(f"/v2/{project}/b/manifests/1", headers=ACCEPT).status_code == 200
    stats = client.get("/api/v1/signatures/pulls", params={"project": project}).json()
    assert (stats["signed"], stats["unsigned"]) == (3, 1)
    assert stats["signed_pulls_pct"] == 75.0
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "registry_signed_pulls_pct " in metrics
    assert 'registry_manifest_pulls_total{signed="true"}' in metrics
