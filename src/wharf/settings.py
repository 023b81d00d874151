"""One typed settings object: defaults < TOML file < WHARF_* environment < command line.

Environment names are mechanical: `WHARF_PORT`, `WHARF_STORAGE__ROOT` (nested with `__`).
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from wharf.durations import Duration

ENV_PREFIX = "WHARF_"
CONFIG_ENV = "WHARF_CONFIG"


class StorageSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    driver: Literal["filesystem"] = "filesystem"
    # Defaults to <data_dir>/blobs.
    root: Path | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = 5000
    data_dir: Path = Path("data")
    # Server processes sharing the store; each runs its own event loop.
    workers: int = 1
    # Defaults to SQLite at <data_dir>/wharf.db.
    database_url: str | None = None
    # FULL: an acknowledged push survives power loss. NORMAL trades that for speed.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    storage: StorageSettings = StorageSettings()
    # Upload sessions idle longer than this are purged.
    upload_ttl: Duration = timedelta(hours=24)
    purge_interval: Duration = timedelta(minutes=10)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

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
    def blob_root(self) -> Path:
        return (self.storage.root or self.data_dir / "blobs").resolve()


def _known_env_names() -> set[str]:
    names = {CONFIG_ENV, "WHARF_ADMIN_PASSWORD"}
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
