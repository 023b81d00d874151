"""The signatures service: project policy and trusted keys, listing and verifying an
image's signatures, the require-signed pull gate and signed-pull accounting.

The pull path stays fast: the policies of all projects are read at most once per
`policy_ttl` (so another node's change applies within it); an image found signed by
the project's keys is remembered per (repository, digest, key-set hash) for
`verified_ttl`, and each signature's own check is cached forever (immutable content).
An image found unsigned is re-checked on every gated pull, so a signature pushed a
moment ago counts at once; for accounting only, that answer is reused for a few seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wharf import errors
from wharf.errors import RegistryError
from wharf.metadata.signature_store import SignaturePolicyRow, SignatureStore
from wharf.oci.digest import Digest, DigestError, is_digest
from wharf.oci.names import is_valid_name, is_valid_tag, project_of
from wharf.signatures.accounting import PullCounter, signed_percentage
from wharf.signatures.cache import TtlCache
from wharf.signatures.keys import KeyFormatError, TrustedKey, key_set_hash, load_public_key
from wharf.signatures.verifier import (
    SignatureInfo,
    SignatureVerifier,
    TrustSet,
    is_signature_artifact,
)
from wharf.storage.driver import StorageDriver

NOT_SIGNED_MESSAGE = "image is not signed by trusted key"
MAX_TRUSTED_KEYS = 50


@dataclass(frozen=True, slots=True)
class ProjectTrust:
    project: str
    require_signed: bool
    trust: TrustSet


@dataclass(frozen=True, slots=True)
class SignatureSettings:
    policy_ttl: float = 5.0
    verified_ttl: float = 600.0
    # How long "unsigned" is reused for accounting (never for enforcement).
    unsigned_ttl: float = 30.0
    cache_entries: int = 10000
    # Callers who may push to the repository may read unsigned manifests (to sign them).
    exempt_pushers: bool = True


@dataclass
class _Policies:
    at: float = 0.0
    by_project: dict[str, ProjectTrust] = field(default_factory=dict)


def _invalid(reason: str) -> RegistryError:
    return RegistryError(errors.INVALID_REQUEST, {"reason": reason}, f"invalid request: {reason}")


def _trust(row: SignaturePolicyRow) -> ProjectTrust:
    keys = []
    for key in row.keys:
        try:
            keys.append(load_public_key(key.pem))
        except KeyFormatError:
            continue  # validated when stored; a key this version cannot read trusts nothing
    return ProjectTrust(row.project, row.require_signed,
                        TrustSet(tuple(keys), key_set_hash(keys)))


class SignatureService:
    def __init__(self, store: SignatureStore, driver: StorageDriver,
                 settings: SignatureSettings | None = None) -> None:
        self.store = store
        self.settings = settings or SignatureSettings()
        self.verifier = SignatureVerifier(store, driver, self.settings.cache_entries)
        self.counter = PullCounter(store)
        self._policies = _Policies()
        self._policy_lock = threading.Lock()
        self._status: TtlCache[tuple[str, str, str], bool] = TtlCache(
            self.settings.cache_entries)
        # Whether a manifest is a signature artefact, by digest: immutable content, and
        # parsing the body on every GET would cost more than the rest of the gate.
        self._artifacts: TtlCache[str, bool] = TtlCache(self.settings.cache_entries)

    # -- policy -----------------------------------------------------------------------

    def _all_trust(self) -> dict[str, ProjectTrust]:
        policies = self._policies
        if time.monotonic() - policies.at <= self.settings.policy_ttl:
            return policies.by_project
        with self._policy_lock:
            if time.monotonic() - self._policies.at > self.settings.policy_ttl:
                rows = self.store.all_policies()
                self._policies = _Policies(time.monotonic(),
                                           {r.project: _trust(r) for r in rows})
            return self._policies.by_project

    def trust_of(self, project: str) -> ProjectTrust | None:
        return self._all_trust().get(project)

    def _project_id(self, project: str) -> int:
        project_id = self.store.project_id(project)
        if project_id is None:
            raise RegistryError(errors.RESOURCE_UNKNOWN, {"project": project},
                                f"project {project!r} not found")
        return project_id

    def policy(self, project: str) -> dict[str, Any]:
        self._project_id(project)
        row = self.store.policy(project)
        assert row is not None
        keys = [{"fingerprint": key.fingerprint, "kind": key.kind, "pem": key.pem,
                 "added_at": key.created_at.isoformat()} for key in row.keys]
        return {"project": project, "require_signed": row.require_signed,
                "trusted_keys": keys}

    def set_policy(self, project: str, require_signed: bool | None,
                   trusted_keys: list[str] | None) -> dict[str, Any]:
        """Set require-signed and/or replace the trusted keys (PEM texts)."""
        project_id = self._project_id(project)
        parsed = None
        if trusted_keys is not None:
            if len(trusted_keys) > MAX_TRUSTED_KEYS:
                raise _invalid(f"at most {MAX_TRUSTED_KEYS} trusted keys")
            loaded: dict[str, TrustedKey] = {}
            for text in trusted_keys:
                try:
                    key = load_public_key(text)
                except KeyFormatError as exc:
                    raise _invalid(f"trusted key: {exc}") from exc
                loaded[key.fingerprint] = key
            parsed = [(k.fingerprint, k.pem, "certificate" if k.certificate else "key")
                      for k in loaded.values()]
        current = self.store.policy(project)
        will_require = require_signed if require_signed is not None else bool(
            current and current.require_signed)
        will_have_keys = bool(parsed) if parsed is not None else bool(current and current.keys)
        if will_require and not will_have_keys:
            raise _invalid("require-signed needs at least one trusted key (--trusted-key)")
        self.store.set_policy(project_id, require_signed, parsed)
        self._policies = _Policies()  # this node applies the change at once
        return self.policy(project)

    # -- listing and verification -----------------------------------------------------

    def resolve(self, repository: str, reference: str) -> Digest:
        if not is_valid_name(repository):
            raise RegistryError(errors.NAME_INVALID, {"name": repository[:300]})
        if is_digest(reference):
            try:
                digest = Digest.parse(reference)
            except DigestError as exc:
                raise RegistryError(errors.DIGEST_INVALID, {"digest": reference[:200]}) \
                    from exc
            if self.store.has_manifest(repository, str(digest)):
                return digest
        elif is_valid_tag(reference):
            found = self.store.resolve_tag(repository, reference)
            if found is not None:
                return Digest.parse(found)
        raise RegistryError(errors.MANIFEST_UNKNOWN, {"name": repository,
                                                      "reference": reference[:200]})

    def signatures(self, repository: str, reference: str) -> dict[str, Any]:
        """An image's signatures, each verified against its project's trusted keys."""
        digest = self.resolve(repository, reference)
        trust = self.trust_of(project_of(repository))
        found = self.verifier.signatures(repository, digest,
                                         trust.trust if trust else None)
        signed = bool(trust) and trust is not None and self.verifier.signed_by_trusted(
            repository, digest, trust.trust)
        return {"repository": repository, "digest": str(digest),
                "require_signed": bool(trust and trust.require_signed),
                "signed_by_trusted_key": signed,
                "signatures": [s.to_json() for s in found]}

    def list_signatures(self, repository: str, digest: Digest) -> list[SignatureInfo]:
        trust = self.trust_of(project_of(repository))
        return self.verifier.signatures(repository, digest, trust.trust if trust else None)

    def is_trusted(self, repository: str, digest: Digest) -> bool:
        """Signed by the project's trusted keys (cached when true)."""
        trust = self.trust_of(project_of(repository))
        if trust is None or not trust.trust.keys:
            return False
        key = (repository, str(digest), trust.trust.hash)
        if self._status.get(key):
            return True
        signed = self.verifier.signed_by_trusted(repository, digest, trust.trust)
        self._status.put(key, signed,
                         self.settings.verified_ttl if signed else self.settings.unsigned_ttl)
        return signed

    def _signed_for_accounting(self, repository: str, digest: Digest) -> bool:
        trust = self.trust_of(project_of(repository))
        if trust is not None and trust.trust.keys:
            key = (repository, str(digest), trust.trust.hash)
            cached = self._status.get(key)
            return cached if cached is not None else self.is_trusted(repository, digest)
        # No trusted keys: nothing can be verified, so "signed" means a signature exists.
        key = (repository, str(digest), "")
        cached = self._status.get(key)
        if cached is None:
            cached = bool(self.verifier.signatures(repository, digest, None))
            self._status.put(key, cached, self.settings.unsigned_ttl)
        return cached

    # -- the pull gate ----------------------------------------------------------------

    def check_pull(self, repository: str, digest_text: str, body: bytes,
                   artifact: bool | None = None) -> RegistryError | None:
        """The error refusing this pull under the project's policy, or None. Signature,
        attestation and SBOM artefacts are always served: verifiers must read them."""
        trust = self.trust_of(project_of(repository))
        if trust is None or not trust.require_signed:
            return None
        if artifact if artifact is not None else is_signature_artifact(body):
            return None
        digest = Digest.parse(digest_text)
        key = (repository, digest_text, trust.trust.hash)
        # Only a positive answer is reused: a signature pushed a moment ago must count.
        if self._status.get(key) or self.is_trusted(repository, digest):
            return None
        return RegistryError(errors.DENIED, {"reason": "signature policy", "digest": digest_text,
                                             "project": trust.project}, NOT_SIGNED_MESSAGE)

    def record_pull(self, repository: str, digest_text: str, body: bytes,
                    artifact: bool | None = None) -> None:
        """Count a served manifest GET as signed or unsigned (signature artefacts and
        failures to decide are not counted)."""
        if artifact if artifact is not None else is_signature_artifact(body):
            return
        try:
            signed = self._signed_for_accounting(repository, Digest.parse(digest_text))
        except (DigestError, OSError):
            return
        self.counter.record(project_of(repository), signed)

    def serve_pull(self, repository: str, digest_text: str, body: bytes,
                   may_push: Callable[[], bool]) -> None:
        """The pull gate and accounting for one manifest GET: raises DENIED when the
        project requires signatures the image lacks (unless the caller may push and
        pushers are exempt), else counts the pull."""
        artifact = self._artifacts.get(digest_text)  # parsed once for both questions
        if artifact is None:
            artifact = is_signature_artifact(body)
            self._artifacts.put(digest_text, artifact)
        error = self.check_pull(repository, digest_text, body, artifact)
        if error is not None and not (self.settings.exempt_pushers and may_push()):
            raise error
        self.record_pull(repository, digest_text, body, artifact)

    # -- accounting -------------------------------------------------------------------

    def flush_counts(self) -> int:
        return self.counter.flush()

    def pull_stats(self, project: str | None = None) -> dict[str, Any]:
        rows = self.counter.totals(project)
        return {"signed_pulls_pct": signed_percentage(rows),
                "signed": sum(r.signed for r in rows),
                "unsigned": sum(r.unsigned for r in rows),
                "projects": [{"project": r.project, "signed": r.signed,
                              "unsigned": r.unsigned,
                              "signed_pulls_pct": signed_percentage([r])} for r in rows]}
