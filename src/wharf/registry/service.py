"""The registry's domain operations, one method per OCI endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from wharf import errors
from wharf.errors import RegistryError
from wharf.metadata.store import MetadataStore, StoredManifest, TagPage
from wharf.oci import mediatypes as mt
from wharf.oci.digest import Digest, DigestError, is_digest
from wharf.oci.manifest import MAX_MANIFEST_BYTES, ManifestError, parse_manifest
from wharf.oci.names import is_valid_name, is_valid_tag, project_of
from wharf.oci.signing import parse_signature_tag
from wharf.registry.hooks import RegistryHooks
from wharf.registry.uploads import UploadManager, UploadState
from wharf.storage import keys
from wharf.storage.driver import MultipartJanitor, Presigner, StorageDriver

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: Digest
    size: int


@dataclass(frozen=True, slots=True)
class PutManifestResult:
    digest: Digest
    subject: Digest | None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[str]
    next_last: str | None


def parse_digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except DigestError as exc:
        raise RegistryError(errors.DIGEST_INVALID, {"digest": text[:256]}, str(exc)) from exc


def check_name(name: str) -> str:
    if not is_valid_name(name):
        raise RegistryError(errors.NAME_INVALID, {"name": name[:300]})
    return name


def page_size(raw: str | None, default: int = MAX_PAGE) -> int:
    """`n` from a query string: absent means the default, huge values are clamped."""
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise RegistryError(errors.PAGINATION_NUMBER_INVALID, {"n": raw[:32]})
    return min(int(raw), MAX_PAGE)


class RegistryService:
    def __init__(self, meta: MetadataStore, driver: StorageDriver,
                 upload_ttl: timedelta = timedelta(hours=24),
                 redirect_ttl: timedelta | None = None) -> None:
        self.meta = meta
        self.driver = driver
        self.uploads = UploadManager(meta, driver, upload_ttl)
        self.hooks: list[RegistryHooks] = []
        # When set (and the driver can presign), blob GETs are redirected to the store.
        self.redirect_ttl = redirect_ttl

    def add_hooks(self, hooks: RegistryHooks) -> None:
        self.hooks.append(hooks)
        self.uploads.on_commit.append(hooks.blob_committed)

    # -- repositories -------------------------------------------------------------

    def _repository(self, name: str) -> int | None:
        return self.meta.repository_id(check_name(name))

    def _existing_repository(self, name: str, code: errors.ErrorCode) -> int:
        repo_id = self._repository(name)
        if repo_id is None:
            raise RegistryError(code, {"name": name})
        return repo_id

    def _writable_repository(self, name: str) -> int:
        repo_id = self.meta.ensure_repository(check_name(name), project_of(name))
        if repo_id is None:
            raise RegistryError(errors.DENIED, {"project": project_of(name),
                                                "reason": "project does not exist"})
        return repo_id

    # -- blobs --------------------------------------------------------------------

    def stat_blob(self, name: str, digest_text: str) -> BlobInfo:
        digest = parse_digest(digest_text)
        size = self.meta.blob_size_by_name(check_name(name), str(digest))
        if size is None:
            raise RegistryError(errors.BLOB_UNKNOWN, {"digest": str(digest)})
        return BlobInfo(digest, size)

    def read_blob(self, info: BlobInfo, offset: int = 0,
                  length: int | None = None) -> Iterator[bytes]:
        return self.driver.read(keys.blob(info.digest), offset, length)

    def delete_blob(self, name: str, digest_text: str) -> None:
        digest = parse_digest(digest_text)
        repo_id = self._existing_repository(name, errors.BLOB_UNKNOWN)
        if not self.meta.unlink_blob(repo_id, str(digest)):
            raise RegistryError(errors.BLOB_UNKNOWN, {"digest": str(digest)})

    def mount_blob(self, name: str, digest_text: str, source: str | None) -> BlobInfo | None:
        """Link a blob from another repository; None when it cannot be mounted.

        Without `source` (automatic content discovery) only repositories of the same
        project are searched: whoever may push to a project may pull from it, so this
        never reveals content the caller could not already read.
        """
        digest = parse_digest(digest_text)
        if source is None:
            found = self.meta.blob_in_project(project_of(check_name(name)), str(digest))
        else:
            found = is_valid_name(source) and self.meta.blob_in_repository_named(
                source, str(digest))
        if not found or self.driver.stat(keys.blob(digest)) is None:
            return None
        size = self.meta.link_existing_blob(self._writable_repository(name), str(digest))
        return None if size is None else BlobInfo(digest, size)

    # -- uploads ------------------------------------------------------------------

    def start_upload(self, name: str) -> UploadState:
        return self.uploads.start(self._writable_repository(name))

    async def upload_monolithic(self, name: str, digest_text: str,
                                body: AsyncIterator[bytes], length: int | None) -> BlobInfo:
        digest = parse_digest(digest_text)
        repo_id = self._writable_repository(name)
        size = await self.uploads.store(repo_id, digest, body)
        if length is not None and size != length:
            raise RegistryError(errors.SIZE_INVALID, {"content_length": length, "received": size})
        return BlobInfo(digest, size)

    def upload_status(self, name: str, session_id: str) -> UploadState:
        return self.uploads.status(self._existing_repository(name, errors.BLOB_UPLOAD_UNKNOWN),
                                   session_id)

    async def upload_chunk(self, name: str, session_id: str, body: AsyncIterator[bytes],
                           start: int | None, length: int | None) -> UploadState:
        repo_id = self._existing_repository(name, errors.BLOB_UPLOAD_UNKNOWN)
        return await self.uploads.append(repo_id, session_id, body, start, length)

    async def finish_upload(self, name: str, session_id: str, digest_text: str,
                            body: AsyncIterator[bytes], start: int | None) -> BlobInfo:
        digest = parse_digest(digest_text)
        repo_id = self._existing_repository(name, errors.BLOB_UPLOAD_UNKNOWN)
        size = await self.uploads.complete(repo_id, session_id, digest, body, start)
        return BlobInfo(digest, size)

    def cancel_upload(self, name: str, session_id: str) -> None:
        repo_id = self._existing_repository(name, errors.BLOB_UPLOAD_UNKNOWN)
        self.uploads.cancel(repo_id, session_id)

    def purge_stale_uploads(self) -> int:
        return self.uploads.purge(self.uploads.idle_sessions())

    def idle_uploads(self, project: str | None) -> list[str]:
        """Upload sessions left idle for the upload TTL, in one project or anywhere."""
        if project is None:
            return self.uploads.idle_sessions()
        return self.uploads.idle_sessions(set(self.meta.repository_ids(project)))

    def abort_abandoned_multipart(self, older_than: float) -> int:
        """Abort the store's unfinished multipart uploads that no session names."""
        if isinstance(self.driver, MultipartJanitor):
            return self.driver.abort_abandoned(older_than)
        return 0

    def blob_redirect(self, info: BlobInfo) -> str | None:
        """A presigned URL to serve the blob from, if redirects are on and possible."""
        if self.redirect_ttl is None or not isinstance(self.driver, Presigner):
            return None
        return self.driver.presigned_url(keys.blob(info.digest),
                                         int(self.redirect_ttl.total_seconds()))

    # -- manifests ----------------------------------------------------------------

    def put_manifest(self, name: str, reference: str, body: bytes,
                     content_type: str | None) -> PutManifestResult:
        check_name(name)
        expected: Digest | None = None
        if is_digest(reference):
            expected = parse_digest(reference)
        elif not is_valid_tag(reference):
            raise RegistryError(errors.TAG_INVALID, {"tag": reference[:200]})
        if len(body) > MAX_MANIFEST_BYTES:
            raise RegistryError(errors.MANIFEST_TOO_LARGE, {"limit": MAX_MANIFEST_BYTES})
        try:
            manifest = parse_manifest(body, content_type,
                                      expected.algorithm if expected else "sha256")
        except ManifestError as exc:
            raise RegistryError(errors.MANIFEST_INVALID, {"reason": str(exc)},
                                f"manifest invalid: {exc}") from exc
        if expected is not None and manifest.digest != expected:
            raise RegistryError(errors.DIGEST_INVALID,
                                {"expected": str(expected), "actual": str(manifest.digest)})
        repo_id = self._writable_repository(name)
        writes = [write for hook in self.hooks
                  if (write := hook.check_push(name, manifest)) is not None]
        missing = self.meta.put_manifest(repo_id, manifest, body,
                                         None if expected else reference, writes)
        if missing:
            raise RegistryError(errors.MANIFEST_BLOB_UNKNOWN, {"missing": missing})
        if manifest.subject is None and expected is None:
            # cosign's `sha256-<hex>.sig|.att|.sbom` tags tie the manifest to that image.
            scheme = parse_signature_tag(reference)
            if scheme is not None:
                self.meta.imply_subject(str(manifest.digest), str(scheme[0]))
        subject = manifest.subject.digest if manifest.subject else None
        return PutManifestResult(manifest.digest, subject)

    def get_manifest(self, name: str, reference: str) -> StoredManifest:
        check_name(name)
        if is_digest(reference):
            stored = self.meta.manifest_by_name(name, digest=str(parse_digest(reference)))
        else:
            # An invalid tag names nothing: unknown, as the conformance suite expects.
            stored = (self.meta.manifest_by_name(name, tag=reference)
                      if is_valid_tag(reference) else None)
        if stored is None:
            raise RegistryError(errors.MANIFEST_UNKNOWN, {"reference": reference[:200]})
        digest = stored.digest
        for hook in self.hooks:
            hook.check_pull(name, digest)
        return stored

    def delete_manifest(self, name: str, reference: str) -> None:
        repo_id = self._existing_repository(name, errors.MANIFEST_UNKNOWN)
        if is_digest(reference):
            digest = str(parse_digest(reference))
            if not self.meta.delete_manifest(repo_id, digest):
                raise RegistryError(errors.MANIFEST_UNKNOWN, {"digest": digest})
            return
        if not is_valid_tag(reference):
            raise RegistryError(errors.TAG_INVALID, {"tag": reference[:200]})
        if not self.meta.delete_tag(repo_id, reference):
            raise RegistryError(errors.MANIFEST_UNKNOWN, {"tag": reference})

    # -- listings -----------------------------------------------------------------

    def list_tags(self, name: str, n: int, last: str | None) -> TagPage:
        """A page of tag names, encoded as a JSON array by the store (pull path)."""
        page = self.meta.tag_page(check_name(name), n, last)
        if page is None:
            raise RegistryError(errors.NAME_UNKNOWN, {"name": name})
        return page

    def catalog(self, n: int, last: str | None, projects: set[str] | None = None) -> Page:
        """A page of repository names; only those in `projects` (what the caller may see)
        when it is given."""
        return _page(self.meta.catalog(n + 1, last, projects), n)

    def referrers(self, name: str, digest_text: str,
                  artifact_type: str | None) -> dict[str, Any]:
        digest = parse_digest(digest_text)
        repo_id = self._repository(name)
        rows = [] if repo_id is None else self.meta.referrers(repo_id, str(digest), artifact_type)
        manifests = []
        for row in rows:
            descriptor: dict[str, Any] = {"mediaType": row.media_type, "digest": row.digest,
                                          "size": row.size}
            if row.artifact_type:
                descriptor["artifactType"] = row.artifact_type
            if row.annotations:
                descriptor["annotations"] = row.annotations
            manifests.append(descriptor)
        return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}


def _page(rows: list[str], n: int) -> Page:
    if len(rows) > n:
        return Page(rows[:n], rows[n - 1] if n > 0 else None)
    return Page(rows, None)
