"""The Python entry point as a user meets it: how ``Yard(...)`` reads its settings, and which job types it
refuses at declaration rather than at submit."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchyard import Context, Yard
from batchyard.core.status import JobStatus
from batchyard.errors import BatchyardError, ConfigurationError, InvalidJobType
from batchyard.settings import Settings


def _double(item: int, ctx: Context) -> int:
    return item * 2


# settings ------------------------------------------------------------------------------------------------------


def test_url_and_overrides_apply_on_top_of_given_settings(tmp_path: Path) -> None:
    base = Settings(database_url="sqlite:///base.db", data_dir=tmp_path / "base", lease_seconds=30.0)
    yard = Yard(f"sqlite:///{tmp_path}/mine.db", settings=base, lease_seconds=4.0)

    assert yard.settings.database_url == f"sqlite:///{tmp_path}/mine.db"
    assert yard.settings.lease_seconds == 4.0
    assert yard.settings.data_dir == tmp_path / "base", "what is not overridden comes from the given settings"
    assert base.lease_seconds == 30.0, "the caller's settings object is left as it was"


def test_given_settings_alone_are_used_as_they_are(tmp_path: Path) -> None:
    base = Settings(database_url=f"sqlite:///{tmp_path}/a.db", lease_seconds=7.0)
    assert Yard(settings=base).settings == base


def test_overrides_are_validated_on_top_of_given_settings() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Yard(settings=Settings(), lease_seconds=-1)
    assert "lease_seconds" in raised.value.details["reason"]
    assert "greater than 0" in raised.value.details["reason"]


def test_invalid_settings_raise_configuration_error_with_the_field_and_reason() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Yard(lease_seconds="soon")
    error = raised.value
    assert isinstance(error, BatchyardError)
    assert error.code == "configuration_error"
    assert error.details["reason"].startswith("lease_seconds: ")
    assert "lease_seconds" in error.message("zh-CN")


def test_an_invalid_environment_variable_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHYARD_LEASE_SECONDS", "0")
    with pytest.raises(ConfigurationError, match="lease_seconds"):
        Yard()


def test_an_unknown_setting_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ConfigurationError, match="lease_second"):
        Yard(lease_second=5)
    with pytest.raises(ConfigurationError, match="lease_second"):
        Yard(settings=Settings(), lease_second=5)


# declaring job types -------------------------------------------------------------------------------------------


def test_skip_done_without_an_item_key_is_refused_at_declaration() -> None:
    yard = Yard("sqlite:///:memory:")
    with pytest.raises(InvalidJobType) as raised:
        yard.job("charge", skip_done="charge:{owner}")(_double)
    assert raised.value.details["name"] == "charge"
    assert "key" in raised.value.details["reason"]
    assert "charge" not in yard.registry

    class NoKey:
        def process(self, item: int, ctx: Context) -> int:
            return item

    with pytest.raises(InvalidJobType, match="key"):
        yard.job("charge_class", skip_done="charge")(NoKey)


def test_key_option_must_be_callable() -> None:
    with pytest.raises(InvalidJobType, match="key"):
        Yard("sqlite:///:memory:").job("charge", key="id")(_double)


def test_function_form_with_a_key_option_skips_items_done_before(database_url: str) -> None:
    yard = Yard(database_url, lease_seconds=2.0)
    try:
        yard.job("charge", chunk_size=10, skip_done="charge", key=lambda item: f"acct-{item}")(_double)
        first = yard.run_until_done(yard.submit("charge", items=range(20)).id, timeout=30)
        assert (first.status, first.succeeded) == (JobStatus.SUCCEEDED, 20)

        second = yard.run_until_done(yard.submit("charge", items=range(30)).id, timeout=30)
        assert (second.status, second.skipped, second.succeeded) == (JobStatus.SUCCEEDED, 20, 10)
        assert [r.key for r in yard.items(second.id, status="succeeded")] == [f"acct-{i}" for i in range(20, 30)]
    finally:
        yard.close()


# running -------------------------------------------------------------------------------------------------------


def test_run_until_done_returns_an_unfinished_job_at_its_timeout_without_raising(yard: Yard) -> None:
    yard.job("double", chunk_size=10)(_double)
    job = yard.submit("double", items=range(100))

    early = yard.run_until_done(job.id, timeout=0)

    assert not early.status.is_finished
    assert early.processed < 100
    done = yard.run_until_done(job.id)
    assert (done.status, done.succeeded) == (JobStatus.SUCCEEDED, 100)
