"""S3 driver: one object per key, and writers any node can continue (S3 multipart uploads).

Objects in the bucket, all under `prefix`:

    <key>                        a key written by `put` or moved into place by `move`
    _open/<key>/_state           JSON naming the parts of an *open* key (one a Writer made)
    _open/<key>/_base            target of the open key's multipart upload; once sealed,
                                 the key's content so far
    _open/<key>/_tail.<gen>      the bytes after the last part, persisted at each commit

Key components start with a letter or digit (`storage.keys`), so `_open/` and the `_…`
names can never collide with a key or with each other.

An open key's content is the multipart upload's parts in order (or, with no upload in
progress, the sealed `_base` object) followed by the tail. S3 wants every part but the
last to be at least 5 MiB, so a Writer buffers to `part_size`, and on `commit` persists
the shorter remainder as the tail object and then the state object. The state is the one
commit point: parts or tails written before a crash and not named by it are overwritten by
the next writer, or aborted by the janitor (`abort_abandoned`).

Parts of an unfinished multipart upload can't be read back, so reading an open key first
*seals* it: its upload is completed into `_base` (tail as the last part). A later append
starts a new upload whose first parts are server-side copies of `_base`. The registry
reads an open key only when an upload session moved between nodes (to rebuild its digest)
and when it commits the blob (`move`: server-side copy, multipart above 5 GiB).

One writer per key at a time: the registry serialises the chunks of an upload session.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from wharf.storage import keys
from wharf.storage.driver import FileInfo, NotFoundError

MiB = 1 << 20
GiB = 1 << 30
# S3's floor for every part of a multipart upload but the last.
MIN_PART = 5 * MiB
# CopyObject copies at most 5 GiB; beyond it a copy is a multipart upload of copied ranges.
MAX_SINGLE_COPY = 5 * GiB
_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchUpload"}


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


@dataclass
class _State:
    """What an open key holds; see the module docstring."""

    upload_id: str | None = None
    parts: list[tuple[int, str, int]] = field(default_factory=list)  # number, ETag, size
    base: int = 0  # bytes of the sealed `_base` object (only when upload_id is None)
    tail_key: str | None = None
    tail: int = 0
    generation: int = 0
    updated: float = 0.0

    @property
    def size(self) -> int:
        body = sum(p[2] for p in self.parts) if self.upload_id else self.base
        return body + self.tail

    @classmethod
    def parse(cls, raw: bytes) -> _State:
        doc = json.loads(raw)
        doc["parts"] = [tuple(p) for p in doc.get("parts", [])]
        return cls(**doc)


class S3Writer:
    def __init__(self, driver: S3Driver, key: str, state: _State, buffer: bytes,
                 replaces_plain: bool) -> None:
        self._driver, self._key = driver, key
        self._state = state
        self._old_tail = state.tail_key
        self._buf = bytearray(buffer)
        # The bytes in the buffer are counted there, not as the persisted tail.
        self._state.tail, self._state.tail_key = 0, None
        self._size = state.size + len(self._buf)
        self._created_upload: str | None = None
        self._replaces_plain = replaces_plain

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        self._buf += data
        self._size += len(data)
        part_size = self._driver.part_size
        while len(self._buf) >= part_size:
            self._upload_part(bytes(self._buf[:part_size]))
            del self._buf[:part_size]

    def _ensure_upload(self) -> str:
        st = self._state
        if st.upload_id is not None:
            return st.upload_id
        d = self._driver
        upload_id = str(d.client.create_multipart_upload(
            Bucket=d.bucket, Key=d.base_key(self._key))["UploadId"])
        self._created_upload = upload_id
        parts: list[tuple[int, str, int]] = []
        # The sealed content so far becomes the first parts, copied inside S3.
        for start, end in _ranges(st.base, d.copy_part_size):
            resp = d.client.upload_part_copy(
                Bucket=d.bucket, Key=d.base_key(self._key), UploadId=upload_id,
                PartNumber=len(parts) + 1, CopySourceRange=f"bytes={start}-{end - 1}",
                CopySource={"Bucket": d.bucket, "Key": d.base_key(self._key)})
            parts.append((len(parts) + 1, resp["CopyPartResult"]["ETag"], end - start))
        st.upload_id, st.parts, st.base = upload_id, parts, 0
        return upload_id

    def _upload_part(self, data: bytes) -> None:
        d = self._driver
        upload_id = self._ensure_upload()
        number = len(self._state.parts) + 1
        resp = d.client.upload_part(Bucket=d.bucket, Key=d.base_key(self._key),
                                    UploadId=upload_id, PartNumber=number, Body=data)
        self._state.parts.append((number, resp["ETag"], len(data)))

    def commit(self) -> None:
        d = self._driver
        if len(self._buf) >= MIN_PART:
            self._upload_part(bytes(self._buf))
            self._buf.clear()
        st = self._state
        if self._buf:
            st.generation += 1
            st.tail_key = f"_tail.{st.generation}"
            d.client.put_object(Bucket=d.bucket, Key=d.internal_key(self._key, st.tail_key),
                                Body=bytes(self._buf))
            st.tail = len(self._buf)
            self._buf.clear()
        self._save()

    def seal(self) -> _State:
        """Make `_base` hold the whole content; returns the new state."""
        d, st = self._driver, self._state
        if st.upload_id is None and st.base == 0:
            d.client.put_object(Bucket=d.bucket, Key=d.base_key(self._key),
                                Body=bytes(self._buf))
            st.base = len(self._buf)
        elif st.upload_id is not None or self._buf:
            upload_id = self._ensure_upload()
            if self._buf:
                self._upload_part(bytes(self._buf))  # the last part may be short
            d.client.complete_multipart_upload(
                Bucket=d.bucket, Key=d.base_key(self._key), UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag}
                                           for n, etag, _ in st.parts]})
            st.base = sum(p[2] for p in st.parts)
            st.upload_id, st.parts = None, []
        self._buf.clear()
        self._save()
        return replace(st)

    def _save(self) -> None:
        d, st = self._driver, self._state
        st.updated = time.time()
        d.client.put_object(Bucket=d.bucket, Key=d.internal_key(self._key, "_state"),
                            Body=json.dumps(asdict(st)).encode())
        if self._old_tail and self._old_tail != st.tail_key:
            d.client.delete_object(Bucket=d.bucket,
                                   Key=d.internal_key(self._key, self._old_tail))
        self._old_tail = st.tail_key
        self._created_upload = None
        if self._replaces_plain:
            d.client.delete_object(Bucket=d.bucket, Key=d.object_key(self._key))
            self._replaces_plain = False

    def cancel(self) -> None:
        # Parts added to an upload the state already names are simply not named by it;
        # an upload this writer created is aborted now rather than by the janitor.
        self._buf.clear()
        if self._created_upload is not None:
            d = self._driver
            with contextlib.suppress(ClientError):
                d.client.abort_multipart_upload(Bucket=d.bucket, Key=d.base_key(self._key),
                                                UploadId=self._created_upload)
            self._created_upload = None


def _ranges(size: int, part: int) -> list[tuple[int, int]]:
    """Split [0, size) into ranges of `part` bytes; a remainder shorter than S3's part
    floor joins the range before it (so `part` must stay MIN_PART below the part limit)."""
    ranges = [(start, min(size, start + part)) for start in range(0, size, part)]
    if len(ranges) > 1 and ranges[-1][1] - ranges[-1][0] < MIN_PART:
        last = ranges.pop()
        ranges[-1] = (ranges[-1][0], last[1])
    return ranges


class S3Driver:
    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, part_size: int = 8 * MiB,
                 copy_threshold: int = MAX_SINGLE_COPY, copy_part_size: int = GiB,
                 path_style: bool = True, client: Any = None) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"part_size must be at least {MIN_PART} bytes")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.part_size = part_size
        self.copy_threshold = min(copy_threshold, MAX_SINGLE_COPY)
        self.copy_part_size = max(MIN_PART, min(copy_part_size, MAX_SINGLE_COPY - MIN_PART))
        self.client = client or boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=Config(
                s3={"addressing_style": "path" if path_style else "auto"},
                retries={"max_attempts": 5, "mode": "standard"},
                max_pool_connections=64,
                # Checksums only where S3 requires them: S3-compatible stores vary in
                # what they accept, and every blob's digest is verified above the driver.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ))

    # -- key layout -----------------------------------------------------------------

    def object_key(self, key: str) -> str:
        return self.prefix + keys.check(key)

    def internal_key(self, key: str, name: str) -> str:
        return f"{self.prefix}_open/{key}/{name}"

    def base_key(self, key: str) -> str:
        return self.internal_key(key, "_base")

    # -- open keys ------------------------------------------------------------------

    def _load_state(self, key: str) -> _State | None:
        try:
            resp = self.client.get_object(Bucket=self.bucket,
                                          Key=self.internal_key(key, "_state"))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return _State.parse(resp["Body"].read())

    def _open_writer(self, key: str, state: _State, *, replaces_plain: bool) -> S3Writer:
        buffer = b""
        if state.tail_key:
            buffer = self._get_object(self.internal_key(key, state.tail_key))
        if state.upload_id is None and 0 < state.base < MIN_PART:
            # Too short to be copied as a part: carried in the buffer instead.
            buffer = self._get_object(self.base_key(key))[:state.base] + buffer
            state.base = 0
        return S3Writer(self, key, state, buffer, replaces_plain)

    def _seal(self, key: str) -> _State | None:
        state = self._load_state(key)
        if state is None:
            return None
        if state.upload_id is None and state.tail == 0 and state.base > 0:
            return state
        return self._open_writer(key, state, replaces_plain=False).seal()

    def _delete_open(self, key: str, *, below: bool) -> None:
        """Drop the open state of `key` (and, if `below`, of every key under it)."""
        prefix = self.internal_key(key, "" if below else "_")
        names = list(self._list_objects(prefix))
        for name in names:
            if name.endswith("/_state"):
                raw = self._get_object_raw(name)
                state = _State.parse(raw) if raw is not None else None
                if state and state.upload_id:
                    with contextlib.suppress(ClientError):
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=name[: -len("_state")] + "_base",
                            UploadId=state.upload_id)
        self._delete_objects(names)

    # -- S3 helpers -----------------------------------------------------------------

    def _get_object_raw(self, name: str) -> bytes | None:
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=name)["Body"].read()
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return body

    def _get_object(self, name: str) -> bytes:
        data = self._get_object_raw(name)
        if data is None:
            raise NotFoundError(name)
        return data

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket,
                                                           Key=self.object_key(key))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return head

    def _list_objects(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield str(item["Key"])

    def _delete_objects(self, names: list[str]) -> None:
        for start in range(0, len(names), 1000):
            batch = names[start:start + 1000]
            if batch:
                self.client.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": n} for n in batch], "Quiet": True})

    def _copy(self, src: str, dst: str, size: int) -> None:
        if size <= self.copy_threshold:
            self.client.copy_object(Bucket=self.bucket, Key=dst,
                                    CopySource={"Bucket": self.bucket, "Key": src})
            return
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=dst)["UploadId"]
        try:
            parts = []
            for number, (start, end) in enumerate(_ranges(size, self.copy_part_size), 1):
                resp = self.client.upload_part_copy(
                    Bucket=self.bucket, Key=dst, UploadId=upload_id, PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": src},
                    CopySourceRange=f"bytes={start}-{end - 1}")
                parts.append({"PartNumber": number, "ETag": resp["CopyPartResult"]["ETag"]})
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=dst,
                                                  UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            with contextlib.suppress(ClientError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=dst,
                                                   UploadId=upload_id)
            raise

    # -- the driver protocol --------------------------------------------------------

    def stat(self, key: str) -> FileInfo | None:
        head = self._head(key)
        if head is not None:
            modified: datetime = head["LastModified"]
            return FileInfo(key, int(head["ContentLength"]), modified.timestamp())
        state = self._load_state(key)
        return None if state is None else FileInfo(key, state.size, state.updated)

    def read(self, key: str, offset: int = 0, length: int | None = None,
             chunk_size: int = 1 << 20) -> Iterator[bytes]:
        name = self.object_key(key)
        if length == 0:
            return
        args: dict[str, Any] = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            args["Range"] = f"bytes={offset}-{end}"
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=name, **args)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return
            if not _missing(exc):
                raise
            if self._seal(key) is None:
                raise NotFoundError(key) from exc
            try:
                resp = self.client.get_object(Bucket=self.bucket, Key=self.base_key(key),
                                              **args)
            except ClientError as exc2:
                if exc2.response.get("Error", {}).get("Code") == "InvalidRange":
                    return
                raise
        body = resp["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def writer(self, key: str, *, append: bool = False) -> S3Writer:
        keys.check(key)
        head = self._head(key)
        state = self._load_state(key)
        if state is None or not append:
            if state is not None and state.upload_id:
                with contextlib.suppress(ClientError):
                    self.client.abort_multipart_upload(Bucket=self.bucket,
                                                       Key=self.base_key(key),
                                                       UploadId=state.upload_id)
            generation = state.generation if state else 0
            state = _State(generation=generation)
            if append and head is not None:
                # Appending to a plain object: it becomes the sealed base of an open key.
                size = int(head["ContentLength"])
                self._copy(self.object_key(key), self.base_key(key), size)
                state.base = size
        return self._open_writer(key, state, replaces_plain=head is not None)

    def get(self, key: str) -> bytes:
        return b"".join(self.read(key))

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data)
        self._delete_open(key, below=False)

    def list(self, prefix: str) -> Iterator[str]:
        name = self.object_key(prefix)
        found = {n[len(self.prefix):] for n in self._list_objects(name)
                 if n == name or n.startswith(name + "/")}
        open_root = f"{self.prefix}_open/"
        for n in self._list_objects(self.internal_key(prefix, "")):
            if n.endswith("/_state"):
                found.add(n[len(open_root):-len("/_state")])
        yield from sorted(found)

    def move(self, src: str, dst: str) -> None:
        target = self.object_key(dst)
        head = self._head(src)
        if head is not None:
            self._copy(self.object_key(src), target, int(head["ContentLength"]))
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(src))
            return
        state = self._load_state(src)
        if state is None:
            raise NotFoundError(src)
        if state.upload_id is None and state.base == 0 and state.tail_key:
            # Everything is in the tail (a blob under one part): copy it as it is.
            self._copy(self.internal_key(src, state.tail_key), target, state.tail)
        else:
            state = self._seal(src) or state
            self._copy(self.base_key(src), target, state.base)
        # Sealed or tail-only, no multipart upload is left: the objects it has are known.
        names = ["_state", "_base", *([state.tail_key] if state.tail_key else [])]
        self._delete_objects([self.internal_key(src, n) for n in names])

    def delete(self, key: str) -> None:
        name = self.object_key(key)
        self._delete_objects([n for n in self._list_objects(name)
                              if n == name or n.startswith(name + "/")])
        self._delete_open(key, below=True)

    def local_path(self, key: str) -> Path | None:
        return None

    # -- optional capabilities ------------------------------------------------------

    def presigned_url(self, key: str, expires_in: int) -> str:
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.object_key(key)},
            ExpiresIn=expires_in)
        return url

    def abort_abandoned(self, older_than: float) -> int:
        cutoff = datetime.now(UTC).timestamp() - older_than
        open_root = f"{self.prefix}_open/"
        aborted = 0
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for upload in page.get("Uploads", []):
                name, upload_id = str(upload["Key"]), str(upload["UploadId"])
                if upload["Initiated"].timestamp() > cutoff:
                    continue
                if name.startswith(open_root) and name.endswith("/_base"):
                    state = self._load_state(name[len(open_root):-len("/_base")])
                    if state is not None and state.upload_id == upload_id:
                        continue  # a live upload session's parts: the purge job owns it
                with contextlib.suppress(ClientError):
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=name,
                                                       UploadId=upload_id)
                    aborted += 1
        return aborted
