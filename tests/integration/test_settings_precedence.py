"""Where settings come from, highest first: arguments to ``Yard(...)``, ``BATCHYARD_*`` variables,
``batchyard.toml`` in the working directory, defaults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from batchyard import Yard
from batchyard.errors import ConfigurationError
from tests.acceptance.helpers import subprocess_env


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and no ``BATCHYARD_*`` variable, so each test sets only what it tests."""
    monkeypatch.chdir(tmp_path)
    for name in ("BATCHYARD_DATABASE_URL", "BATCHYARD_DATA_DIR", "BATCHYARD_LEASE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _toml(workdir: Path, text: str) -> None:
    (workdir / "batchyard.toml").write_text(text)


def test_defaults_without_any_configuration(workdir: Path) -> None:
    settings = Yard().settings
    assert (settings.database_url, settings.data_dir, settings.lease_seconds) == (None, Path(".batchyard"), 30.0)
    assert settings.resolved_database_url == f"sqlite:///{workdir / '.batchyard' / 'batchyard.db'}"


def test_toml_file_beats_defaults(workdir: Path) -> None:
    _toml(workdir, 'data_dir = "state"\nlease_seconds = 12\n')
    settings = Yard().settings
    assert (settings.data_dir, settings.lease_seconds) == (Path("state"), 12.0)
    assert settings.resolved_database_url == f"sqlite:///{workdir / 'state' / 'batchyard.db'}"


def test_environment_beats_toml_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _toml(workdir, 'data_dir = "state"\nlease_seconds = 12\n')
    monkeypatch.setenv("BATCHYARD_LEASE_SECONDS", "7")
    settings = Yard().settings
    assert settings.lease_seconds == 7.0
    assert settings.data_dir == Path("state"), "what the environment leaves unset still comes from the file"


def test_arguments_beat_environment_and_toml_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _toml(workdir, 'database_url = "sqlite:///from-toml.db"\nlease_seconds = 12\n')
    monkeypatch.setenv("BATCHYARD_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("BATCHYARD_LEASE_SECONDS", "7")
    settings = Yard("sqlite:///from-argument.db", lease_seconds=3).settings
    assert (settings.database_url, settings.lease_seconds) == ("sqlite:///from-argument.db", 3.0)
    assert Yard().settings.database_url == "sqlite:///from-env.db"


def test_a_broken_toml_file_is_a_configuration_error(workdir: Path) -> None:
    _toml(workdir, "lease_seconds = \n")
    with pytest.raises(ConfigurationError, match=r"batchyard\.toml"):
        Yard()
    _toml(workdir, "lease_seconds = -2\n")
    with pytest.raises(ConfigurationError, match="lease_seconds"):
        Yard()


def test_cli_reports_invalid_settings_in_one_line(workdir: Path) -> None:
    _toml(workdir, "lease_seconds = 0\n")
    result = subprocess.run(
        [sys.executable, "-m", "batchyard", "db", "upgrade"],
        cwd=workdir,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: The configuration is invalid: lease_seconds: Input should be greater than 0 (got 0)"
    ]
