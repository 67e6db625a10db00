"""Configuration, read once at the edge from ``BATCHYARD_*`` variables or ``batchyard.toml``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


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
