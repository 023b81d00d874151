"""Images for the scanning tests, built from real files: this machine's dpkg database and
os-release, and Python packages installed with `pip install --target`.

Layers are tar+gzip from `tests.support.images.make_layer`; the result is an OCI layout
skopeo can push (`oci:DIR:TAG`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.images import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    REF_NAME,
    Blob,
    Layer,
    canonical_json,
    make_layer,
)

SITE = "usr/local/lib/python3.11/site-packages"


@dataclass(frozen=True)
class ScanImage:
    path: Path
    tag: str
    manifest: Blob

    @property
    def ref(self) -> str:
        return f"oci:{self.path}:{self.tag}"

    @property
    def digest(self) -> str:
        return self.manifest.digest


def os_layer(salt: str) -> Layer:
    """This machine's real package database and os-release."""
    files = {
        "var/lib/dpkg/status": Path("/var/lib/dpkg/status").read_bytes(),
        "etc/os-release": Path("/etc/os-release").read_bytes(),
        "etc/wharf-test-salt": salt.encode(),
    }
    return make_layer(files)


def tree_layer(root: Path, prefix: str, salt: str) -> Layer:
    """Every file under `root`, placed under `prefix` in the layer."""
    files = {f"{prefix}/{p.relative_to(root)}": p.read_bytes()
             for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}
    files[f"{prefix}/.wharf-test-salt"] = salt.encode()
    return make_layer(files)


def files_layer(files: dict[str, bytes]) -> Layer:
    return make_layer(files)


def pip_target(dest: Path, requirements: list[str], cache: Path) -> Path:
    """`pip install --target` of pinned packages (PyPI), once per destination."""
    marker = dest / ".complete"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "--cache-dir", str(cache),
                        "--target", str(dest), *requirements],
                       check=True, capture_output=True, timeout=600)
        marker.write_text("ok")
    return dest


def write_image(dest: Path, layers: list[Layer], tag: str = "1") -> ScanImage:
    config = Blob(OCI_CONFIG, canonical_json({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "config": {"Cmd": ["/bin/sh"]},
    }))
    manifest = Blob(OCI_MANIFEST, canonical_json({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
        "layers": [layer.blob.descriptor() for layer in layers],
    }))
    blob_dir = dest / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    for blob in [manifest, config, *(layer.blob for layer in layers)]:
        (blob_dir / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)
    (dest / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
             "manifests": [manifest.descriptor(annotations={REF_NAME: tag})]}
    (dest / "index.json").write_text(json.dumps(index))
    return ScanImage(dest, tag, manifest)
