"""Build small OCI images on disk from local files, for interop tests with real clients.

Everything here is deterministic for a given ``salt``: layers are tar archives with fixed
timestamps and owners, gzipped with a zero mtime, so the same salt always gives the same
digests. Each test passes its own salt so the images it pushes are distinct from other tests'.

The result is an OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``)
that ``skopeo copy oci:DIR:TAG ...`` and ``podman pull oci:DIR:TAG`` read directly.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME = "org.opencontainers.image.ref.name"

# Small, always-present local files that make up the "base" layer.
ETC_FILES = ("/etc/hostname", "/etc/host.conf", "/etc/issue", "/etc/debian_version")
FIXED_MTIME = 1_700_000_000


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Blob:
    """Content-addressed bytes plus the media type they are referenced with."""

    media_type: str
    data: bytes
    annotations: dict[str, str] | None = None

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        desc: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.annotations:
            desc["annotations"] = dict(self.annotations)
        desc.update(extra)
        return desc


@dataclass(frozen=True)
class Layer:
    """A gzip-compressed layer and the digest of its uncompressed tar (the diff_id)."""

    blob: Blob
    diff_id: str
    files: dict[str, bytes]


@dataclass(frozen=True)
class Image:
    """One platform's manifest, config and layers."""

    manifest: Blob
    config: Blob
    layers: tuple[Layer, ...]
    os: str
    architecture: str

    @property
    def digest(self) -> str:
        return self.manifest.digest

    def blobs(self) -> list[Blob]:
        return [self.config, *(layer.blob for layer in self.layers)]


@dataclass
class Layout:
    """An OCI image layout directory and what was written into it."""

    path: Path
    tag: str
    top: Blob  # what index.json's entry for ``tag`` points at (a manifest or an index)
    images: list[Image] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """The ``oci:`` transport reference skopeo and podman accept."""
        return f"oci:{self.path}:{self.tag}"

    @property
    def digest(self) -> str:
        return self.top.digest

    def all_blobs(self) -> dict[str, Blob]:
        """Every blob reachable from the tag, keyed by digest (manifests included)."""
        found = {self.top.digest: self.top}
        for image in self.images:
            found[image.manifest.digest] = image.manifest
            for blob in image.blobs():
                found[blob.digest] = blob
        return found

    def image_for(self, architecture: str) -> Image:
        for image in self.images:
            if image.architecture == architecture:
                return image
        raise KeyError(architecture)


def make_tar(files: dict[str, bytes]) -> bytes:
    """A reproducible tar archive holding ``files`` (relative paths) and their parent dirs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(p) for name in files for p in Path(name).parents if str(p) != "."})
        for directory in dirs:
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = FIXED_MTIME
            tar.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            info.mtime = FIXED_MTIME
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def make_layer(files: dict[str, bytes], media_type: str = OCI_LAYER_GZIP) -> Layer:
    raw = make_tar(files)
    compressed = gzip.compress(raw, compresslevel=6, mtime=0)
    return Layer(blob=Blob(media_type, compressed), diff_id=sha256_digest(raw), files=files)


def etc_layer() -> Layer:
    """A layer of a few real files copied from this machine's /etc."""
    present = [Path(name) for name in ETC_FILES if Path(name).is_file()]
    files = {str(path).lstrip("/"): path.read_bytes() for path in present}
    return make_layer(files)


def app_layer(salt: str, architecture: str) -> Layer:
    files = {
        "opt/wharf-interop/id": f"{salt}\n".encode(),
        "opt/wharf-interop/arch": f"{architecture}\n".encode(),
        "opt/wharf-interop/hello.sh": b"#!/bin/sh\necho hello from wharf interop\n",
    }
    return make_layer(files)


def make_image(salt: str, architecture: str, base: Layer, os_name: str = "linux") -> Image:
    """A manifest + config for one platform: the shared ``base`` layer, then an app layer."""
    layers = (base, app_layer(salt, architecture))
    config_obj = {
        "created": "2024-01-01T00:00:00Z",
        "architecture": architecture,
        "os": os_name,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh", "/opt/wharf-interop/hello.sh"],
            "Labels": {"org.opencontainers.image.title": f"wharf-interop-{salt}"},
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": "tests/support/images.py etc"},
            {"created": "2024-01-01T00:00:00Z", "created_by": "tests/support/images.py app"},
        ],
    }
    config = Blob(OCI_CONFIG, canonical_json(config_obj))
    manifest_obj = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.blob.descriptor() for layer in layers],
        "annotations": {"org.opencontainers.image.description": f"wharf interop {salt}"},
    }
    manifest = Blob(OCI_MANIFEST, canonical_json(manifest_obj))
    return Image(manifest, config, layers, os_name, architecture)


def _write_layout(dest: Path, tag: str, top: Blob, blobs: list[Blob]) -> None:
    blob_dir = dest / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    for blob in [top, *blobs]:
        (blob_dir / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)
    (dest / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [top.descriptor(annotations={REF_NAME: tag})],
    }
    (dest / "index.json").write_text(json.dumps(index))


def build_single_arch(dest: Path, salt: str, tag: str = "1") -> Layout:
    """A linux/amd64 image with two gzip layers, written as an OCI layout at ``dest``."""
    image = make_image(salt, "amd64", etc_layer())
    _write_layout(dest, tag, image.manifest, image.blobs())
    return Layout(dest, tag, image.manifest, [image])


def build_multi_arch(dest: Path, salt: str, tag: str = "1") -> Layout:
    """An image index for linux/amd64 + linux/arm64; both manifests share the /etc layer."""
    base = etc_layer()
    images = [make_image(salt, arch, base) for arch in ("amd64", "arm64")]
    index_obj = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            image.manifest.descriptor(
                platform={"architecture": image.architecture, "os": image.os}
            )
            for image in images
        ],
    }
    index = Blob(OCI_INDEX, canonical_json(index_obj))
    blobs = [blob for image in images for blob in (image.manifest, *image.blobs())]
    _write_layout(dest, tag, index, blobs)
    return Layout(dest, tag, index, images)


@dataclass(frozen=True)
class DirImage:
    """An image in skopeo's ``dir:`` transport format (manifest.json + one file per blob)."""

    path: Path
    manifest_bytes: bytes

    @property
    def ref(self) -> str:
        return f"dir:{self.path}"

    @property
    def manifest(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.manifest_bytes)
        return result

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest_bytes)

    def blob(self, digest: str) -> bytes:
        return (self.path / digest.removeprefix("sha256:")).read_bytes()


def read_dir_image(path: Path) -> DirImage:
    return DirImage(path, (path / "manifest.json").read_bytes())


def convert_to_docker_v2s2(
    layout: Layout, dest: Path, skopeo_args: list[str], timeout: float = 120
) -> DirImage:
    """Have skopeo rewrite a single-arch OCI layout as a Docker v2 schema 2 ``dir:`` image.

    ``skopeo_args`` are global options placed before ``copy`` (e.g. a private ``--policy``).
    """
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise RuntimeError("skopeo is not installed")
    subprocess.run(
        [skopeo, *skopeo_args, "copy", "--quiet", "--format", "v2s2", layout.ref, f"dir:{dest}"],
        check=True, capture_output=True, timeout=timeout,
    )
    return read_dir_image(dest)


def read_layout_blob(path: Path, digest: str) -> bytes:
    return (path / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def read_layout_index(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((path / "index.json").read_text())
    return result
