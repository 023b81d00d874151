"""Parse and validate manifests and indexes (image-spec manifest.md, image-index.md).

Parsing is strict because a manifest is stored forever and served to every client: the
JSON must be well-formed, free of duplicate keys, and every descriptor well-typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wharf.oci import mediatypes as mt
from wharf.oci.digest import Digest, DigestError

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_NONDISTRIBUTABLE = (
    "application/vnd.oci.image.layer.nondistributable.",
    "application/vnd.docker.image.rootfs.foreign.",
)


class ManifestError(ValueError):
    """The manifest is not acceptable; the message says why."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    platform: dict[str, Any] | None = None
    urls: tuple[str, ...] = ()

    @property
    def foreign(self) -> bool:
        """A non-distributable layer with URLs lives elsewhere and need not be pushed."""
        return bool(self.urls) and self.media_type.startswith(_NONDISTRIBUTABLE)


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    digest: Digest
    blobs: tuple[Descriptor, ...] = ()
    children: tuple[Descriptor, ...] = ()
    subject: Descriptor | None = None
    artifact_type: str | None = None
    config_media_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ManifestError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _load(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body, object_pairs_hook=_no_duplicates)
    except ManifestError:
        raise
    except RecursionError as exc:
        raise ManifestError("JSON nested too deeply") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"malformed JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ManifestError("manifest must be a JSON object")
    return doc


def _str(doc: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = doc.get(key)
    if value is None:
        if required:
            raise ManifestError(f"{where}: {key} is required")
        return None
    if not isinstance(value, str):
        raise ManifestError(f"{where}: {key} must be a string")
    return value


def _annotations(doc: dict[str, Any], where: str) -> dict[str, str] | None:
    value = doc.get("annotations")
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ManifestError(f"{where}: annotations must map strings to strings")
    return value


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestError(f"{where}: descriptor must be an object")
    media_type = _str(value, "mediaType", where, required=True)
    digest_text = _str(value, "digest", where, required=True)
    size = value.get("size")
    # bool is an int in Python; a JSON true is not a size.
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{where}: size must be a non-negative integer")
    try:
        digest = Digest.parse(digest_text or "")
    except DigestError as exc:
        raise ManifestError(f"{where}: {exc}") from exc
    urls = value.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise ManifestError(f"{where}: urls must be a list of strings")
    platform = value.get("platform")
    if platform is not None and not isinstance(platform, dict):
        raise ManifestError(f"{where}: platform must be an object")
    return Descriptor(
        media_type=media_type or "",
        digest=digest,
        size=size,
        artifact_type=_str(value, "artifactType", where),
        annotations=_annotations(value, where),
        platform=platform,
        urls=tuple(urls),
    )


def _descriptors(doc: dict[str, Any], key: str) -> tuple[Descriptor, ...]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise ManifestError(f"{key} must be an array")
    return tuple(_descriptor(item, f"{key}[{i}]") for i, item in enumerate(value))


def detect_media_type(doc: dict[str, Any], content_type: str | None) -> str:
    """The manifest's media type: the document's own field, else the Content-Type, else shape."""
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ManifestError("mediaType must be a string")
    header = (content_type or "").split(";", 1)[0].strip().lower() or None
    if header in ("application/json", "application/octet-stream"):
        header = None
    if declared in mt.SCHEMA1 or header in mt.SCHEMA1 or doc.get("schemaVersion") == 1:
        raise ManifestError(
            "Docker schema 1 manifests are not supported; push with a current client "
            "(Docker image manifest v2 schema 2 or OCI)"
        )
    if declared and header and declared != header:
        raise ManifestError(f"mediaType {declared!r} does not match Content-Type {header!r}")
    media_type = declared or header
    if media_type is None:
        media_type = mt.OCI_INDEX if "manifests" in doc else mt.OCI_MANIFEST
    if media_type not in mt.MANIFESTS:
        raise ManifestError(f"unsupported manifest media type {media_type!r}")
    return media_type


def parse_manifest(body: bytes, content_type: str | None, algorithm: str = "sha256") -> Manifest:
    """Parse a manifest or index as pushed, checking its structure (not its references)."""
    if len(body) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"manifest exceeds {MAX_MANIFEST_BYTES} bytes")
    doc = _load(body)
    media_type = detect_media_type(doc, content_type)
    if doc.get("schemaVersion") != 2:
        raise ManifestError("schemaVersion must be 2")
    subject_doc = doc.get("subject")
    subject = _descriptor(subject_doc, "subject") if subject_doc is not None else None
    annotations = _annotations(doc, "manifest") or {}
    artifact_type = _str(doc, "artifactType", "manifest")
    digest = Digest.of(body, algorithm)
    if media_type in mt.INDEXES:
        if "config" in doc or "layers" in doc:
            raise ManifestError("an index has no config or layers")
        return Manifest(media_type, digest, children=_descriptors(doc, "manifests"),
                        subject=subject, artifact_type=artifact_type, annotations=annotations)
    if "manifests" in doc:
        raise ManifestError("an image manifest has no manifests list")
    if "config" not in doc:
        raise ManifestError("config is required")
    config = _descriptor(doc["config"], "config")
    layers = _descriptors(doc, "layers")
    if artifact_type is None:
        # distribution-spec referrers: artifactType falls back to the config media type.
        artifact_type = config.media_type
    return Manifest(media_type, digest, blobs=(config, *layers), subject=subject,
                    artifact_type=artifact_type, config_media_type=config.media_type,
                    annotations=annotations)
