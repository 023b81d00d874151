"""Helpers for the signature tests against a live server: projects with keys, robots,
skopeo pulls, and the `wharf` CLI's key and signing commands."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.scanning import Cli, unique
from tests.support.server import WharfServer

KEY_PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


def generate_key(cli: Cli, directory: Path, name: str = "cosign") -> KeyPair:
    """`wharf key generate`: an encrypted cosign key file and a PEM public key."""
    directory.mkdir(parents=True, exist_ok=True)
    prefix = directory / name
    run_cli(cli, "key", "generate", "--output-key-prefix", str(prefix))
    return KeyPair(prefix.with_suffix(".key"), prefix.with_suffix(".pub"))


def run_cli(cli: Cli, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`wharf ARGS` with the key password in COSIGN_PASSWORD, as cosign takes it."""
    previous = os.environ.get("COSIGN_PASSWORD")
    os.environ["COSIGN_PASSWORD"] = KEY_PASSWORD
    try:
        return cli.run(*args, check=check)
    finally:
        if previous is None:
            os.environ.pop("COSIGN_PASSWORD", None)
        else:
            os.environ["COSIGN_PASSWORD"] = previous


def new_project(server: WharfServer) -> str:
    name = unique("sig")
    server.create_project(name)
    return name


def puller(client: httpx.Client, project: str) -> str:
    """Credentials (`user:secret`) of a pull-only robot of the project: a production
    cluster's, to whom the signature policy applies."""
    resp = client.post(f"/api/v1/projects/{project}/robots",
                       json={"name": unique("puller"), "role": "puller"})
    assert resp.status_code == 201, resp.text
    doc = resp.json()
    return f"{doc['name']}:{doc['secret']}"


def pull(server: WharfServer, source: str, dest: Path, creds: str,
         *, all_platforms: bool = False) -> subprocess.CompletedProcess[str]:
    """skopeo copy of `project/repo:tag` from the server to an OCI layout."""
    extra = ["--all"] if all_platforms else []
    return subprocess.run(
        ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--src-creds", creds,
         "--retry-times", "0", *extra, f"docker://{server.host}/{source}",
         f"oci:{dest}:pulled"],
        capture_output=True, text=True, timeout=300, check=False)
