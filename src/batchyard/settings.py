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
