"""Manifest GET requests/s with require-signed off and on (wrk against a live server).

    .venv/bin/python -m bench.signatures [--duration 10] [--connections 32]

One image in one project, pulled by tag with a pull-scoped Bearer token (as a cluster
pulls): first without a signature policy, then with require-signed and a trusted key
(the image signed in cosign's format), then an unsigned image under the same policy
(every GET refused with 403). The server runs as one process, so the figures compare
the pull path, not the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from wharf.oci.digest import Digest
from wharf.oci.signing import signature_tag
from wharf.signatures import keys
from wharf.signatures.cosign import sign

PASSWORD = "bench-admin-password"
ACCEPT = "application/vnd.oci.image.manifest.v1+json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _push_blob(http: httpx.Client, repo: str, data: bytes) -> str:
    digest = str(Digest.of(data))
    resp = http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
    resp.raise_for_status()
    return digest


def _push_image(http: httpx.Client, repo: str, tag: str, salt: bytes) -> Digest:
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []},
                         "salt": salt.hex()}).encode()
    layer = os.urandom(4096) + salt
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": ACCEPT,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _push_blob(http, repo, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _push_blob(http, repo, layer), "size": len(layer)}],
    }).encode()
    http.put(f"/v2/{repo}/manifests/{tag}", content=manifest,
             headers={"Content-Type": ACCEPT}).raise_for_status()
    return Digest.of(manifest)


def _wrk(url: str, token: str, duration: int, connections: int) -> tuple[float, str]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
         "-H", f"Authorization: Bearer {token}", "-H", f"Accept: {ACCEPT}", url],
        capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    note = f"p99 {p99.group(1) if p99 else '?'}"
    if non2xx:
        note += f", non-2xx {non2xx.group(1)}"
    return float(rps.group(1)) if rps else 0.0, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    port = _free_port()
    data = Path(tempfile.mkdtemp(prefix="wharf-bench-sig-"))
    env = {**os.environ, "WHARF_ADMIN_PASSWORD": PASSWORD, "WHARF_LOG_LEVEL": "warning"}
    wharf = Path(sys.executable).with_name("wharf")
    proc = subprocess.Popen([str(wharf), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        http = httpx.Client(base_url=base, auth=httpx.BasicAuth("admin", PASSWORD), timeout=30)
        for _ in range(200):
            try:
                if http.get("/v2/").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        http.post("/api/v1/projects", json={"name": "bench"}).raise_for_status()
        signed_digest = _push_image(http, "bench/app", "1", b"signed")
        _push_image(http, "bench/unsigned", "1", b"unsigned")
        key = keys.generate()
        artifact = sign(key, f"127.0.0.1:{port}/bench/app", signed_digest)
        _push_blob(http, "bench/app", artifact.payload)
        _push_blob(http, "bench/app", artifact.config)
        http.put(f"/v2/bench/app/manifests/{signature_tag(signed_digest)}",
                 content=artifact.manifest, headers={"Content-Type": ACCEPT}).raise_for_status()
        robot = http.post("/api/v1/projects/bench/robots",
                          json={"name": "puller", "role": "puller"}).json()
        scope = "repository:bench/app:pull repository:bench/unsigned:pull"
        token = httpx.get(f"{base}/auth/token",
                          params=[("service", "wharf"), *[("scope", s) for s in scope.split()]],
                          auth=(robot["name"], robot["secret"])).json()["token"]

        def run(label: str, repo: str) -> float:
            url = f"{base}/v2/{repo}/manifests/1"
            _wrk(url, token, 2, args.connections)  # warm-up: caches, connections
            rps, note = _wrk(url, token, args.duration, args.connections)
            print(f"{label:<44} {rps:>9.0f} req/s  ({note})")
            return rps

        print(f"manifest GET by tag, wrk -c{args.connections} -d{args.duration}s, "
              "one server process")
        off = run("require-signed off", "bench/app")
        http.put("/api/v1/projects/bench/policy",
                 json={"require_signed": True,
                       "trusted_keys": [keys.public_pem(key)]}).raise_for_status()
        on = run("require-signed on, signed image", "bench/app")
        run("require-signed on, unsigned image (403)", "bench/unsigned")
        print(f"on/off: {on / off:.2f}" if off else "on/off: n/a")
    finally:
        proc.terminate()
        proc.wait(15)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
