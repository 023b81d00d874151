"""What only the S3 driver does: multipart copy, the janitor, presigned URLs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.s3 import MotoServer
from wharf.storage.driver import MultipartJanitor, Presigner
from wharf.storage.s3 import S3Driver

MiB = 1 << 20


@pytest.fixture
def s3(moto: MotoServer, s3_bucket: str) -> Iterator[S3Driver]:
    return S3Driver(s3_bucket, prefix="r", endpoint_url=moto.endpoint,
                   access_key_id="testing", secret_access_key="testing")


def test_move_above_the_copy_threshold_is_a_multipart_copy(s3: S3Driver) -> None:
    # The 5 GiB CopyObject limit, scaled down so the test moves megabytes, not gigabytes.
    s3.copy_threshold, s3.copy_part_size = 6 * MiB, 5 * MiB
    data = bytes(range(256)) * (13 * MiB // 256)
    w = s3.writer("uploads/a/data", append=True)
    w.write(data)
    w.commit()
    s3.move("uploads/a/data", "blobs/sha256/aa/final")
    head = s3.client.head_object(Bucket=s3.bucket, Key="r/blobs/sha256/aa/final")
    # Two copied parts, 5 + 8 MiB: a 3 MiB remainder would be under S3's part floor.
    assert head["ETag"].strip('"').endswith("-2")
    assert s3.get("blobs/sha256/aa/final") == data


def test_janitor_aborts_only_uploads_no_session_names(s3: S3Driver) -> None:
    live = s3.writer("uploads/live/data", append=True)
    live.write(b"x" * (9 * MiB))
    live.commit()
    orphan = s3.client.create_multipart_upload(Bucket=s3.bucket,
                                               Key="r/_open/uploads/gone/data/_base")
    stray = s3.client.create_multipart_upload(Bucket=s3.bucket, Key="r/blobs/sha256/bb/x")
    assert isinstance(s3, MultipartJanitor)
    # moto reports every upload as initiated in 2010, so only the "names it" rule is
    # exercised here; real S3 dates them, and younger ones than `older_than` are kept.
    assert s3.abort_abandoned(3600) == 2
    remaining = s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])
    assert {u["UploadId"] for u in remaining}.isdisjoint({orphan["UploadId"],
                                                          stray["UploadId"]})
    assert len(remaining) == 1
    assert s3.get("uploads/live/data") == b"x" * (9 * MiB)
    s3.delete("uploads/live")
    assert s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []


def test_presigned_url_serves_the_bytes(s3: S3Driver) -> None:
    s3.put("blobs/sha256/cc/x", b"hello presigned")
    assert isinstance(s3, Presigner)
    url = s3.presigned_url("blobs/sha256/cc/x", 60)
    resp = httpx.get(url)
    assert resp.status_code == 200
    assert resp.content == b"hello presigned"
    resp = httpx.get(url, headers={"Range": "bytes=6-14"})
    assert resp.content == b"presigned"


def test_part_size_below_the_s3_floor_is_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3Driver("b", part_size=MiB, client=object())
