"""Configuration, read once at the edge from ``BATCHYARD_*`` variables or ``batchyard.toml``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from batchyard.core.smtp import parse_smtp_url
from batchyard.errors import ConfigurationError

_SECRETS = ("secret_key", "smtp_url")  # never quoted back in an error


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATCHYARD_", toml_file="batchyard.toml", extra="ignore")

    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite under data_dir if unset")
    data_dir: Path = Field(default=Path(".batchyard"), description="Where the embedded database and blobs live")
    lease_seconds: float = Field(default=30.0, gt=0, description="A claimed chunk's lease; heartbeats at a third")
    events_retention_days: float = Field(
        default=7.0, gt=0, description="How long job events are kept (a stream resumed from before gets `reset`)"
    )
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
    secret_key: SecretStr | None = Field(
        default=None,
        description="The key webhook signing secrets are derived from (at least 32 characters). Every API host "
        "must have the same one. Unset: one is generated once into data_dir/secret_key (mode 0600)",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks call loopback, private and link-local addresses (off: such URLs are refused)",
    )
    delivery_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a webhook or SMTP server may take to connect, and to answer"
    )
    delivery_max_attempts: int = Field(default=8, ge=1, le=25, description="Attempts before a delivery fails")
    delivery_backoff_seconds: float = Field(
        default=60.0, gt=0, description="The first retry's delay; each later one doubles it (with jitter)"
    )
    delivery_backoff_cap: float = Field(default=3600.0, gt=0, description="The longest delay between retries")
    delivery_poll_seconds: float = Field(default=1.0, gt=0, description="How often an idle dispatcher looks")
    delivery_concurrency: int = Field(
        default=2, ge=1, le=32, description="Deliveries one API process sends at once, per channel (webhooks, e-mail)"
    )
    smtp_url: SecretStr | None = Field(
        default=None,
        description="smtp://user:pass@host:port (?starttls=true) or smtps://…: notices are e-mailed through it; "
        "unset: no e-mail",
    )
    smtp_from: str | None = Field(default=None, max_length=300, description="The From of notice e-mails")
    blob_url: str | None = Field(
        default=None,
        description="Where files are kept: a directory, or s3://bucket/prefix?endpoint_url=…&region=… for "
        "S3-compatible storage shared by many hosts (credentials from the standard AWS settings); unset: "
        "data_dir/blobs",
    )
    upload_max_file_mb: float = Field(default=100.0, gt=0, description="The largest file one upload may be, in MB")
    upload_max_request_mb: float = Field(
        default=1024.0, gt=0, description="The most one upload request may carry, all files together, in MB"
    )
    upload_max_files: int = Field(default=100, ge=1, description="The most files one upload request may carry")
    upload_retention_hours: float = Field(default=24.0, gt=0, description="How long an upload no job has used is kept")
    artifact_retention_days: float = Field(
        default=7.0, gt=0, description="How long a job's files (and the uploads it used) are kept"
    )
    migrate_sources: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="The databases a migration may read, separated by commas: sqlite:////dir/file.db, "
        "sqlite:////dir/* (any file under it), postgresql://host:port/db, mysql://host/db (db * : any), or * "
        "(anything). Unset: SQLite files under data_dir/sources only",
    )

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_names_a_server(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_smtp_url(value.get_secret_value())
        return value

    @field_validator("migrate_sources", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("smtp_from")
    @classmethod
    def _one_header_line(cls, value: str | None) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError("must be one line")
        return value

    @model_validator(mode="after")
    def _smtp_needs_a_sender(self) -> Settings:
        if self.smtp_url is not None and not self.smtp_from:
            raise ValueError("smtp_from must be set with smtp_url (the From of notice e-mails)")
        return self

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

    @property
    def resolved_blob_url(self) -> str:
        return self.blob_url or str((self.data_dir / "blobs").resolve())


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
    if where in _SECRETS or not first["loc"]:
        return f"{where}: {first['msg']}"
    return f"{where}: {first['msg']} (got {first['input']!r})"
