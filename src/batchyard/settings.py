"""Configuration, read once at the edge from ``BATCHYARD_*`` variables or ``batchyard.toml``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from batchyard.errors import ConfigurationError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATCHYARD_", toml_file="batchyard.toml", extra="ignore")

    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite under data_dir if unset")
    data_dir: Path = Field(default=Path(".batchyard"), description="Where the embedded database and blobs live")
    lease_seconds: float = Field(default=30.0, gt=0, description="A claimed chunk's lease; heartbeats at a third")
    pg_connect_timeout: float = Field(default=10.0, ge=0, description="PostgreSQL: seconds to connect (0: none)")
    pg_lock_timeout: float = Field(default=30.0, ge=0, description="PostgreSQL: seconds a lock wait lasts (0: none)")
    pg_idle_in_transaction_timeout: float = Field(
        default=60.0, ge=0, description="PostgreSQL: seconds a session may sit idle in a transaction (0: none)"
    )
    pg_durable_chunk_commits: bool = Field(
        default=False,
        description="PostgreSQL: workers' claims and commits wait for the disk (off: a server crash may undo "
        "the last moments of work, which is then redone; see decision 0015)",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'batchyard.db').resolve()}"


def load_settings(base: Settings | None = None, **overrides: Any) -> Settings:
    """Settings from ``base`` (else keyword arguments > environment > ``batchyard.toml`` > defaults), with
    ``overrides`` on top; anything invalid or unknown is a ``ConfigurationError`` naming the setting."""
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise ConfigurationError(reason=f"unknown setting {unknown[0]!r}; known: {', '.join(Settings.model_fields)}")
    try:
        if base is None:
            return Settings(**overrides)
        # model_validate re-checks every field and, unlike Settings(...), does not read the environment again.
        return Settings.model_validate({**base.model_dump(), **overrides})
    except ValidationError as exc:
        raise ConfigurationError(reason=_describe(exc)) from None
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigurationError(reason=f"batchyard.toml: {exc}") from None


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "settings"
    return f"{where}: {first['msg']} (got {first['input']!r})"
