"""One typed settings object: defaults < TOML file < WHARF_* environment < command line.

Environment names are mechanical: `WHARF_PORT`, `WHARF_STORAGE__ROOT` (nested with `__`).
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from wharf.durations import Duration

ENV_PREFIX = "WHARF_"
CONFIG_ENV = "WHARF_CONFIG"


class S3Settings(BaseModel):
    """An S3-compatible object store (AWS S3, MinIO, Ceph RGW, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str = ""
    # Keys live under this prefix, so one bucket can hold several registries.
    prefix: str = ""
    # None: AWS's own endpoint for `region`.
    endpoint_url: str | None = None
    region: str = "us-east-1"
    # None: boto3's usual credential chain (environment, instance profile, ...).
    access_key_id: str | None = None
    secret_access_key: str | None = None
    # Path-style URLs (endpoint/bucket/key) work with every S3-compatible store.
    path_style: bool = True
    # Upload sessions are buffered to parts of this size (S3's floor: 5 MiB). S3 allows
    # 10,000 parts per upload, so 8 MiB parts bound a blob at about 78 GiB.
    part_size_mib: int = 8
    # Redirect blob GETs to presigned URLs valid this long (off: bytes go through wharf).
    presign: bool = False
    presign_ttl: Duration = timedelta(minutes=20)
    # Unfinished multipart uploads no session names are aborted after this long.
    abandoned_multipart_after: Duration = timedelta(hours=1)
    janitor_interval: Duration = timedelta(hours=1)


class StorageSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    driver: Literal["filesystem", "s3"] = "filesystem"
    # Defaults to <data_dir>/blobs.
    root: Path | None = None
    s3: S3Settings = S3Settings()


class JobSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Run background jobs inside `wharf serve`; turn off when `wharf worker`s do them.
    in_server: bool = True
    # How often an idle runner looks for work.
    poll_interval: Duration = timedelta(seconds=1)
    # A job whose runner stops renewing its lease this long is taken over by another.
    lease: Duration = timedelta(minutes=5)


class DatabaseSettings(BaseModel):
    """Connection pool of each server process (PostgreSQL; SQLite ignores it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool_size: int = 10
    max_overflow: int = 20


class OidcIssuerSettings(BaseModel):
    """A trusted identity issuer (e.g. one Kubernetes cluster's service-account issuer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    issuer: str
    # The issuer's JWKS document, inline or in a file; it is never fetched.
    jwks: dict[str, Any] | None = None
    jwks_file: Path | None = None
    # When set, identity tokens must carry it in `aud`.
    audience: str | None = None


class OidcMappingSettings(BaseModel):
    """Grants `role` in `project` to identities of `issuer` matching every glob given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str
    project: str
    role: str
    subject: str | None = None
    namespace: str | None = None
    service_account: str | None = None


class AuthSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # `service` and `iss`/`aud` of registry tokens; the challenge names the service.
    service: str = "wharf"
    issuer: str = "wharf"
    # Absolute token endpoint URL for the challenge; default: <request base URL>/auth/token.
    realm: str | None = None
    token_ttl: Duration = timedelta(minutes=5)
    # Offline (refresh) tokens, used by `docker login` and the kubelet credential provider.
    refresh_ttl: Duration = timedelta(hours=12)
    max_api_token_ttl: Duration = timedelta(days=90)
    # Failed logins allowed per username and client address per minute.
    login_failures_per_minute: int = 10
    oidc_issuers: list[OidcIssuerSettings] = []
    oidc_mappings: list[OidcMappingSettings] = []


class ScanningSettings(BaseModel):
    """Vulnerability scanning (wharf.scanning): bounds on indexing one layer, and where
    `wharf vulndb update` downloads OSV archives from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    # Index layers in the background right after their blob is committed (a job), so the
    # check at manifest PUT finds them indexed.
    index_on_commit: bool = True
    max_layer_seconds: float = 120.0
    max_decompressed_mib: int = 16384
    max_compression_ratio: int = 200
    max_entries: int = 500_000
    # Largest package database, metadata file or jar read into memory.
    max_file_mib: int = 64
    osv_base_url: str = "https://osv-vulnerabilities.storage.googleapis.com"
    ecosystems: list[str] = ["Debian", "Ubuntu", "Alpine", "PyPI", "npm", "Go", "Maven",
                             "Rocky Linux", "AlmaLinux"]


class SignatureSettings(BaseModel):
    """Image signatures (wharf.signatures): the require-signed pull gate, its caches, and
    the Kubernetes admission webhook."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Callers who may push to a repository may read its unsigned manifests: signing tools
    # (cosign, `wharf image sign`) must read an image to sign it.
    exempt_pushers: bool = True
    # Another node's policy change applies within this time.
    policy_cache_ttl: Duration = timedelta(seconds=5)
    # An image found signed is not re-checked for this long (a deleted signature is
    # noticed after it).
    verified_cache_ttl: Duration = timedelta(minutes=10)
    cache_entries: int = 10000
    # Signed/unsigned pull counters are written to the database this often.
    counter_flush_interval: Duration = timedelta(seconds=5)
    # Names clients use for this registry (`registry.example.com`, `10.0.0.5:5000`): the
    # admission webhook checks images on these hosts. Empty: the webhook request's Host.
    registry_hosts: list[str] = []
    # Images on other registries, at admission: allow or deny.
    admission_foreign_images: Literal["allow", "deny"] = "allow"
    # The bearer token the Kubernetes API server presents to the admission webhook (its
    # kubeconfig for the webhook); unset, the webhook is off, since it resolves tags and
    # reports policy verdicts for private projects.
    admission_token: SecretStr | None = None


class GcSettings(BaseModel):
    """Online garbage collection (see wharf.lifecycle.gc)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Unreferenced content younger than this is kept: it covers a push's window between
    # its blob uploads and its manifest PUT. `wharf gc run --grace` overrides it per run.
    grace: Duration = timedelta(hours=24)
    # How often the scheduled whole-registry run happens (0: never).
    interval: Duration = timedelta(hours=24)
    # Rows deleted per transaction: smaller batches hold the database write lock shorter.
    batch_size: int = 200
    # Whole-registry runs also list the store for bytes no row names (crash leftovers).
    sweep_orphans: bool = True


class RetentionSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # How often every project's retention policy is applied (0: never; on demand only).
    interval: Duration = timedelta(hours=24)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = 5000
    data_dir: Path = Path("data")
    # Server processes sharing the store, each with its own event loop; unset: one per
    # CPU this process may run on (a Python process serves from one core at a time).
    workers: int | None = Field(default=None, ge=1, le=64)
    # Defaults to SQLite at <data_dir>/wharf.db.
    database_url: str | None = None
    # FULL: an acknowledged push survives power loss. NORMAL trades that for speed.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    storage: StorageSettings = StorageSettings()
    # Upload sessions idle longer than this are purged.
    upload_ttl: Duration = timedelta(hours=24)
    purge_interval: Duration = timedelta(minutes=10)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    jobs: JobSettings = JobSettings()
    database: DatabaseSettings = DatabaseSettings()
    auth: AuthSettings = AuthSettings()
    gc: GcSettings = GcSettings()
    retention: RetentionSettings = RetentionSettings()
    scanning: ScanningSettings = ScanningSettings()
    signatures: SignatureSettings = SignatureSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'wharf.db'}"

    @property
    def resolved_workers(self) -> int:
        return self.workers or max(1, len(os.sched_getaffinity(0)))

    @property
    def blob_root(self) -> Path:
        return (self.storage.root or self.data_dir / "blobs").resolve()


def _known_env_names() -> set[str]:
    # Read by the CLI and the credential provider, not by the server.
    names = {CONFIG_ENV, "WHARF_ADMIN_PASSWORD", "WHARF_CLI_CONFIG", "WHARF_TOKEN_URL",
             "WHARF_TOKEN_SERVICE"}
    for field_name in Settings.model_fields:
        names.add(f"{ENV_PREFIX}{field_name.upper()}")
    return names


def unknown_env() -> list[str]:
    """WHARF_* variables that name no setting (typos would otherwise pass silently)."""
    known = _known_env_names()
    return sorted(name for name in os.environ
                  if name.startswith(ENV_PREFIX) and name.split("__", 1)[0] not in known)


def load_settings(**overrides: Any) -> Settings:
    for name in unknown_env():
        warnings.warn(f"ignoring unknown setting {name}", stacklevel=2)
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
