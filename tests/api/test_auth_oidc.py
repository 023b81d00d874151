"""Cluster identity: service-account tokens from a trusted issuer (keys made here) are
exchanged for registry access through mapping rules, and the kubelet credential provider
does that exchange for the kubelet."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.iam import api, create_project, registry_token, unique
from tests.support.oci import push_image
from tests.support.server import WharfServer

OCI = {"Accept": "application/vnd.oci.image.manifest.v1+json"}


class Issuer:
    """A stand-in Kubernetes service-account issuer with its own RSA key."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": "sa-key-1", "alg": "RS256", "use": "sig"})
        self.jwks = {"keys": [jwk]}

    def token(self, namespace: str, account: str, audience: str = "wharf",
              ttl: int = 600, key: rsa.RSAPrivateKey | None = None) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "sub": f"system:serviceaccount:{namespace}:{account}",
                  "aud": [audience], "iat": now, "nbf": now, "exp": now + ttl,
                  "kubernetes.io": {"namespace": namespace,
                                    "serviceaccount": {"name": account, "uid": "u"}}}
        return jwt.encode(claims, key or self.key, algorithm="RS256",
                          headers={"kid": "sa-key-1"})


@pytest.fixture(scope="module")
def cluster(server: WharfServer) -> tuple[Issuer, str]:
    """An issuer trusted through the API, mapping namespace `web-*` to puller in a project
    and service account `build/ci` to pusher."""
    issuer = Issuer(f"https://{unique('cluster')}.example/oidc")
    project = unique("k8s")
    with httpx.Client(base_url=server.url, auth=server.auth, timeout=30) as admin:
        create_project(admin, project)
        push_image(admin, f"{project}/web", tag="v1")
        name = unique("prod")
        api(admin, "POST", "/oidc/issuers", json={"name": name, "issuer": issuer.url,
                                                  "jwks": issuer.jwks, "audience": "wharf"})
        api(admin, "POST", "/oidc/mappings", json={"issuer": name, "project": project,
                                                   "role": "puller", "namespace": "web-*"})
        api(admin, "POST", "/oidc/mappings", json={
            "issuer": name, "project": project, "role": "pusher", "namespace": "build",
            "service_account": "ci"})
    return issuer, project


def test_mapped_service_account_pulls(server: WharfServer, cluster: tuple[Issuer, str]) -> None:
    issuer, project = cluster
    sa = issuer.token("web-prod", "default")
    resp = registry_token(server.url, httpx.BasicAuth("oidc", sa),
                          f"repository:{project}/web:pull,push")
    assert resp.status_code == 200, resp.text
    token = resp.json()["token"]
    headers = {"Authorization": f"Bearer {token}", **OCI}
    assert httpx.get(f"{server.url}/v2/{project}/web/manifests/v1",
                     headers=headers).status_code == 200
    # Pull only: the push half of the request was not granted.
    assert httpx.post(f"{server.url}/v2/{project}/web/blobs/uploads/",
                      headers=headers).status_code == 403


def test_subject_token_form_and_pusher_mapping(server: WharfServer,
                                               cluster: tuple[Issuer, str]) -> None:
    issuer, project = cluster
    resp = httpx.post(f"{server.url}/auth/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": issuer.token("build", "ci"), "service": "wharf",
        "client_id": "test", "scope": f"repository:{project}/web:pull,push"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["scope"] == f"repository:{project}/web:view,pull,push"


@pytest.mark.parametrize(("namespace", "account"), [("default", "default"), ("build", "other"),
                                                    ("webprod", "x")])
def test_unmapped_subjects_are_denied(server: WharfServer, cluster: tuple[Issuer, str],
                                      namespace: str, account: str) -> None:
    issuer, project = cluster
    auth = httpx.BasicAuth("oidc", issuer.token(namespace, account))
    resp = registry_token(server.url, auth, f"repository:{project}/web:pull")
    assert resp.status_code == 200
    assert resp.json()["token"]
    direct = httpx.get(f"{server.url}/v2/{project}/web/manifests/v1", auth=auth, headers=OCI)
    assert direct.status_code == 403
    assert direct.json()["errors"][0]["code"] == "DENIED"


def test_untrusted_or_broken_identity_tokens(server: WharfServer,
                                             cluster: tuple[Issuer, str]) -> None:
    issuer, project = cluster
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_issuer = Issuer("https://elsewhere.example")
    cases = {
        "wrong key": issuer.token("web-prod", "default", key=stranger),
        "wrong audience": issuer.token("web-prod", "default", audience="kubernetes"),
        "untrusted issuer": other_issuer.token("web-prod", "default"),
    }
    for name, token in cases.items():
        resp = registry_token(server.url, httpx.BasicAuth("oidc", token),
                              f"repository:{project}/web:pull")
        assert resp.status_code == 401, f"{name}: {resp.text}"
    expired = registry_token(server.url,
                             httpx.BasicAuth("oidc", issuer.token("web-prod", "d", ttl=-120)),
                             f"repository:{project}/web:pull")
    assert expired.status_code == 401
    assert expired.json()["errors"][0]["message"] == "token expired"


def provider(request: dict[str, object], token_url: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("wharf-credential-provider")
    return subprocess.run([str(exe), "--token-url", token_url], input=json.dumps(request),
                          capture_output=True, text=True, timeout=60, check=False)


def test_credential_provider_round_trip(server: WharfServer, cluster: tuple[Issuer, str],
                                        tmp_path: Path) -> None:
    issuer, project = cluster
    image = f"{server.host}/{project}/web:v1"
    request = {"apiVersion": "credentialprovider.kubelet.k8s.io/v1",
               "kind": "CredentialProviderRequest", "image": image,
               "serviceAccountToken": issuer.token("web-prod", "runner"),
               "serviceAccountAnnotations": {}}
    result = provider(request, f"{server.url}/auth/token")
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["apiVersion"] == "credentialprovider.kubelet.k8s.io/v1"
    assert response["kind"] == "CredentialProviderResponse"
    assert response["cacheKeyType"] == "Registry"
    assert response["cacheDuration"].endswith("s")
    assert 0 < int(response["cacheDuration"][:-1]) <= 600
    creds = response["auth"][server.host]
    # What the container runtime does with the credentials: Basic on /v2, or the token flow.
    auth = httpx.BasicAuth(creds["username"], creds["password"])
    assert httpx.get(f"{server.url}/v2/{project}/web/manifests/v1", auth=auth,
                     headers=OCI).status_code == 200
    token = registry_token(server.url, auth, f"repository:{project}/web:pull")
    assert token.status_code == 200
    skopeo = shutil.which("skopeo")
    if skopeo is not None:
        out = subprocess.run(
            [skopeo, "inspect", "--raw", "--tls-verify=false", "--authfile", "/dev/null",
             "--creds", f"{creds['username']}:{creds['password']}", f"docker://{image}"],
            capture_output=True, text=True, timeout=120, check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["schemaVersion"] == 2


def test_credential_provider_refuses_unmapped_and_bad_input(
        server: WharfServer, cluster: tuple[Issuer, str]) -> None:
    issuer, project = cluster
    request = {"apiVersion": "credentialprovider.kubelet.k8s.io/v1",
               "kind": "CredentialProviderRequest", "image": f"{server.host}/{project}/web:v1",
               "serviceAccountToken": issuer.token("default", "default")}
    result = provider(request, f"{server.url}/auth/token")
    assert result.returncode == 0, result.stderr
    creds = json.loads(result.stdout)["auth"][server.host]
    resp = httpx.get(f"{server.url}/v2/{project}/web/manifests/v1",
                     auth=(creds["username"], creds["password"]), headers=OCI)
    assert resp.status_code == 403
    no_token = provider({**request, "serviceAccountToken": ""}, f"{server.url}/auth/token")
    assert no_token.returncode != 0
    assert "serviceAccountToken" in no_token.stderr
    untrusted = provider({**request, "serviceAccountToken": Issuer("https://x").token("a", "b")},
                         f"{server.url}/auth/token")
    assert untrusted.returncode != 0


def test_issuer_and_mappings_from_settings(tmp_path: Path) -> None:
    """A cluster configured in the TOML settings file (JWKS from a file) works the same."""
    issuer = Issuer("https://settings-cluster.example")
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(issuer.jwks))
    config = tmp_path / "wharf.toml"
    config.write_text(
        "[[auth.oidc_issuers]]\n"
        'name = "prod"\n'
        f'issuer = "{issuer.url}"\n'
        f'jwks_file = "{jwks_file}"\n'
        "[[auth.oidc_mappings]]\n"
        'issuer = "prod"\nproject = "conf"\nrole = "puller"\n'
        'subject = "system:serviceaccount:apps:*"\n')
    srv = WharfServer(data_dir=tmp_path / "data", env={"WHARF_CONFIG": str(config)})
    srv.start()
    try:
        with httpx.Client(base_url=srv.url, auth=srv.auth, timeout=30) as admin:
            push_image(admin, "conf/app", tag="v1")
        allowed = httpx.BasicAuth("oidc", issuer.token("apps", "api"))
        denied = httpx.BasicAuth("oidc", issuer.token("other", "api"))
        assert httpx.get(f"{srv.url}/v2/conf/app/manifests/v1", auth=allowed,
                         headers=OCI).status_code == 200
        assert httpx.get(f"{srv.url}/v2/conf/app/manifests/v1", auth=denied,
                         headers=OCI).status_code == 403
    finally:
        srv.stop()
