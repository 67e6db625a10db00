"""Which databases a migration may read: the administrator's allow-list, and the data directory's ``sources/``
folder when there is none. Paths are resolved before they are compared, so ``..`` and symbolic links lead
nowhere else; a server URL must name the same server, port and database (and user, when the entry names one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchyard import Yard
from batchyard.errors import ConfigurationError, InvalidParams, MigrateSourceNotAllowed
from batchyard.store.sql.source_policy import SourcePolicy


def _allowed(policy: SourcePolicy, url: str) -> bool:
    try:
        policy.check(url)
    except MigrateSourceNotAllowed:
        return False
    return True


def test_without_a_list_only_files_in_the_data_directorys_sources_folder_are_read(tmp_path: Path) -> None:
    policy = SourcePolicy.of([], tmp_path)
    (tmp_path / "sources" / "old").mkdir(parents=True)
    assert _allowed(policy, f"sqlite:///{tmp_path}/sources/legacy.db")
    assert _allowed(policy, f"sqlite:///{tmp_path}/sources/old/erp.db")
    assert not _allowed(policy, f"sqlite:///{tmp_path}/batchyard.db")  # the state database beside it
    assert not _allowed(policy, f"sqlite:///{tmp_path}/sources/../batchyard.db")
    assert not _allowed(policy, "sqlite:////etc/passwd")
    assert not _allowed(policy, "sqlite://")  # in memory: nothing to migrate, and no file to allow
    assert not _allowed(policy, "postgresql://postgres@127.0.0.1:5432/test")


def test_a_symbolic_link_in_the_allowed_folder_does_not_lead_out_of_it(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "secret.db"
    secret.parent.mkdir()
    secret.write_bytes(b"")
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "link.db").symlink_to(secret)
    assert not _allowed(SourcePolicy.of([], tmp_path), f"sqlite:///{tmp_path}/sources/link.db")


def test_entries_allow_a_file_a_folder_a_database_or_anything(tmp_path: Path) -> None:
    policy = SourcePolicy.of(
        [
            "sqlite:////srv/legacy/erp.db",
            "sqlite:////srv/dumps/*",
            "postgresql://db.internal:5433/erp",
            "mysql://reader@mysql.internal/*",
        ],
        tmp_path,
    )
    assert _allowed(policy, "sqlite:////srv/legacy/erp.db")
    assert not _allowed(policy, "sqlite:////srv/legacy/hr.db")
    assert _allowed(policy, "sqlite:////srv/dumps/2019/shop.db")
    assert not _allowed(policy, "sqlite:////srv/dumps-old/shop.db")  # a prefix of the name is not the folder
    assert _allowed(policy, "postgresql+psycopg://anyone:pw@db.internal:5433/erp")
    assert not _allowed(policy, "postgresql://db.internal/erp")  # port 5432, not 5433
    assert not _allowed(policy, "postgresql://db.internal:5433/hr")
    assert not _allowed(policy, "mysql://db.internal:5433/erp")  # same host and port, another kind of server
    assert _allowed(policy, "mysql+pymysql://reader:pw@mysql.internal:3306/shop")
    assert _allowed(policy, "mariadb://reader@mysql.internal/crm")  # one protocol: a mysql entry allows mariadb://
    assert not _allowed(policy, "mysql://root@mysql.internal/shop")  # the entry names its user
    assert not _allowed(policy, f"sqlite:///{tmp_path}/sources/legacy.db")  # a list replaces the default
    assert _allowed(SourcePolicy.of(["*"], tmp_path), "sqlite:////anything/at/all.db")


def test_a_refusal_names_the_setting_in_both_languages_and_never_shows_the_password(tmp_path: Path) -> None:
    with pytest.raises(MigrateSourceNotAllowed) as refused:
        SourcePolicy.of([], tmp_path).check("postgresql://erp:hunter2@db.internal/erp")
    english, chinese = refused.value.message("en"), refused.value.message("zh-CN")
    assert "BATCHYARD_MIGRATE_SOURCES" in english
    assert "BATCHYARD_MIGRATE_SOURCES" in chinese
    assert "db.internal/erp" in english
    assert "不允许" in chinese
    assert "hunter2" not in english + chinese


def test_an_entry_that_is_not_a_url_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="migrate_sources"):
        Yard(f"sqlite:///{tmp_path}/x.db", data_dir=tmp_path, migrate_sources=["/srv/legacy"])


def test_the_setting_is_read_as_a_comma_separated_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHYARD_MIGRATE_SOURCES", "sqlite:////srv/a/*, postgresql://h/db ,")
    yard = Yard(f"sqlite:///{tmp_path}/x.db", data_dir=tmp_path)
    assert yard.settings.migrate_sources == ["sqlite:////srv/a/*", "postgresql://h/db"]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://etl@erp.internal/erp?host=payroll.internal",
        "postgresql://etl@erp.internal/erp?dbname=payroll",
        "postgresql://etl@erp.internal/erp?options=-cdefault_transaction_read_only%3Doff",
        "mysql://etl@erp.internal/erp?init_command=DELETE+FROM+t",
        "mysql://etl@erp.internal/erp?local_infile=1",
        "sqlite:////srv/legacy/erp.db?mode=rwc",
    ],
)
def test_a_connection_parameter_that_could_move_or_change_the_connection_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(InvalidParams, match=r"parameter|options"):
        SourcePolicy.of(["*"], tmp_path).check(url)


def test_harmless_parameters_and_a_search_path_are_accepted(tmp_path: Path) -> None:
    policy = SourcePolicy.of(["postgresql://erp.internal/erp", "mysql://erp.internal/erp"], tmp_path)
    policy.check("postgresql://etl@erp.internal/erp?sslmode=require&connect_timeout=5&options=-csearch_path%3Dlegacy")
    policy.check("mysql://etl@erp.internal/erp?charset=utf8mb4")
