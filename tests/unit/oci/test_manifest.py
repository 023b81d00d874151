import json
from typing import Any

import pytest

from wharf.oci import mediatypes as mt
from wharf.oci.digest import Digest
from wharf.oci.manifest import MAX_MANIFEST_BYTES, ManifestError, parse_manifest

CFG = {"mediaType": "application/vnd.oci.image.config.v1+json",
       "digest": str(Digest.of(b"{}")), "size": 2}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
         "digest": str(Digest.of(b"layer")), "size": 5}


def _body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def test_image_manifest_references_config_and_layers() -> None:
    body = _body({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": CFG,
                  "layers": [LAYER]})
    m = parse_manifest(body, mt.OCI_MANIFEST)
    assert m.digest == Digest.of(body)
    assert [str(d.digest) for d in m.blobs] == [CFG["digest"], LAYER["digest"]]
    assert m.children == ()
    assert m.artifact_type == CFG["mediaType"]


def test_index_references_children_and_subject() -> None:
    child = {"mediaType": mt.OCI_MANIFEST, "digest": str(Digest.of(b"m")), "size": 1,
             "platform": {"architecture": "arm64", "os": "linux"}}
    subject = {"mediaType": mt.OCI_MANIFEST, "digest": str(Digest.of(b"s")), "size": 1}
    m = parse_manifest(_body({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                              "manifests": [child], "subject": subject}), None)
    assert m.is_index
    assert [str(d.digest) for d in m.children] == [child["digest"]]
    assert m.subject is not None
    assert str(m.subject.digest) == subject["digest"]


def test_media_type_inferred_from_shape_without_header_or_field() -> None:
    assert parse_manifest(_body({"schemaVersion": 2, "config": CFG, "layers": []}),
                          None).media_type == mt.OCI_MANIFEST
    assert parse_manifest(_body({"schemaVersion": 2, "manifests": []}),
                          "application/json").media_type == mt.OCI_INDEX


def test_artifact_type_from_helm_config() -> None:
    helm = {**CFG, "mediaType": "application/vnd.cncf.helm.config.v1+json"}
    m = parse_manifest(_body({"schemaVersion": 2, "config": helm, "layers": [LAYER]}),
                       mt.OCI_MANIFEST)
    assert m.artifact_type == "application/vnd.cncf.helm.config.v1+json"


def test_foreign_layers_are_not_required() -> None:
    foreign = {**LAYER, "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
               "urls": ["https://example.invalid/layer"]}
    m = parse_manifest(_body({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
                              "config": {**CFG, "mediaType":
                                         "application/vnd.docker.container.image.v1+json"},
                              "layers": [foreign]}), mt.DOCKER_MANIFEST)
    assert m.blobs[1].foreign


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    (b"{", mt.OCI_MANIFEST, "malformed JSON"),
    (b'{"schemaVersion": 2, "schemaVersion": 2}', mt.OCI_MANIFEST, "duplicate key"),
    (b"[" * 100_000 + b"]" * 100_000, mt.OCI_MANIFEST, "nested too deeply"),
    (b"[]", mt.OCI_MANIFEST, "JSON object"),
    (b"\xff\xfe", mt.OCI_MANIFEST, "malformed JSON"),
    (_body({"schemaVersion": 1, "name": "x"}), None, "schema 1"),
    (_body({"schemaVersion": 2, "config": CFG}), mt.DOCKER_SCHEMA1_SIGNED, "schema 1"),
    (_body({"schemaVersion": 3, "config": CFG, "layers": []}), mt.OCI_MANIFEST, "schemaVersion"),
    (_body({"schemaVersion": 2, "layers": []}), mt.OCI_MANIFEST, "config is required"),
    (_body({"schemaVersion": 2, "config": {**CFG, "size": -1}}), mt.OCI_MANIFEST, "size"),
    (_body({"schemaVersion": 2, "config": {**CFG, "size": True}}), mt.OCI_MANIFEST, "size"),
    (_body({"schemaVersion": 2, "config": {**CFG, "digest": "sha256:zz"}}), mt.OCI_MANIFEST,
     "digest"),
    (_body({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}), mt.OCI_MANIFEST,
     "does not match"),
    (_body({"schemaVersion": 2, "config": CFG, "layers": {}}), mt.OCI_MANIFEST, "array"),
    (_body({"schemaVersion": 2, "config": CFG, "annotations": {"a": 1}}), mt.OCI_MANIFEST,
     "annotations"),
    (_body({"schemaVersion": 2, "config": CFG}), "application/vnd.example+json", "unsupported"),
    (b" " * (MAX_MANIFEST_BYTES + 1), mt.OCI_MANIFEST, "exceeds"),
])
def test_invalid_manifests(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(ManifestError, match=reason):
        parse_manifest(body, content_type)
