"""Which databases a migration may read: the server administrator's allow-list.

A migration's source URL comes from whoever submits it; without a list, any operator could read any SQLite file
the server can open and any database it can reach. An entry names what may be read:

- ``sqlite:////srv/legacy/erp.db`` — that file; ``sqlite:////srv/legacy/*`` — any file under that directory
  (paths resolved first, so ``..`` and symbolic links lead nowhere else);
- ``postgresql://host:5432/erp``, ``mysql://host/erp`` — that database on that server, with whatever credentials
  the URL carries (a user named in the entry must be the URL's); ``postgresql://host/*``: any of its databases;
- ``*`` — anything (a single-user machine).

With no list, only SQLite files under the data directory's ``sources/`` folder may be read.

A URL's query string is passed to the driver, which lets it override the host, database, user or port the list
judged (``?host=``, ``?dbname=``, ``?unix_socket=``), or run a statement at connect (MySQL's ``?init_command=``):
only the few parameters below, which change none of that, are accepted. A table's or query's reach inside an
allowed database is what the URL's account may read: give migrations an account that reads the legacy data only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from batchyard.errors import ConfigurationError, InvalidParams, MigrateSourceNotAllowed

SETTING = "BATCHYARD_MIGRATE_SOURCES"
SOURCES_FOLDER = "sources"
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
_FAMILY = {"mariadb": "mysql"}  # one protocol: an entry of either allows both
# Connection parameters a source URL may carry: none moves the connection elsewhere or runs anything.
_SAFE_PARAMETERS = {
    "postgresql": frozenset({"sslmode", "connect_timeout", "application_name", "options"}),
    "mysql": frozenset({"charset", "connect_timeout", "ssl_mode"}),
    "sqlite": frozenset(),
}
# PostgreSQL's ``options`` only as a search path (``-csearch_path=…``): other settings could lift the read-only
# session's guard (``default_transaction_read_only``) or a server's limits.
_SEARCH_PATH_ONLY = re.compile(r"^\s*(-c\s*search_path\s*=\s*[\w,\s\"$]+)\s*$")


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    """The allow-list, parsed once; ``check`` refuses a URL no entry allows."""

    entries: tuple[str, ...]
    data_dir: Path

    @classmethod
    def of(cls, entries: Iterable[str], data_dir: Path) -> SourcePolicy:
        found = tuple(e.strip() for e in entries if e.strip())
        for entry in found:
            if entry != "*" and not _is_url(entry):
                raise ConfigurationError(reason=f"migrate_sources: {entry!r} is not a database URL nor *")
        return cls(found, data_dir)

    def allowed_entries(self) -> tuple[str, ...]:
        """The list in force: the administrator's, or the data directory's ``sources/`` folder."""
        if self.entries:
            return self.entries
        return (f"sqlite:///{(self.data_dir / SOURCES_FOLDER).resolve()}/*",)

    def check(self, url: str) -> None:
        source = _parsed(url, what="source_url")
        check_parameters(source)
        if not any(_allows(entry, source) for entry in self.allowed_entries()):
            raise MigrateSourceNotAllowed(source=_shown(source), setting=SETTING)


def check_parameters(url: URL) -> None:
    """Refuse a connection parameter that is not one of the few harmless ones, naming it (never its value)."""
    allowed = _SAFE_PARAMETERS.get(_backend(url), frozenset())
    for name, value in url.query.items():
        if name not in allowed:
            shown = ", ".join(sorted(allowed)) or "none"
            raise InvalidParams(reason=f"source_url: the parameter {name!r} is not accepted (accepted: {shown})")
        values = value if isinstance(value, tuple) else (value,)
        if name == "options" and not all(_SEARCH_PATH_ONLY.match(v) for v in values):
            raise InvalidParams(reason="source_url: options may only set the search_path (-csearch_path=…)")


def _parsed(url: str, *, what: str) -> URL:
    try:
        return make_url(url)
    except (sa_exc.ArgumentError, ValueError):
        raise InvalidParams(reason=f"{what}: not a database URL (e.g. sqlite:///legacy.db)") from None


def _is_url(text: str) -> bool:
    try:
        make_url(text)
    except (sa_exc.ArgumentError, ValueError):
        return False
    return True


def _backend(url: URL) -> str:
    name = url.get_backend_name()
    return _FAMILY.get(name, name)


def _allows(entry: str, source: URL) -> bool:
    if entry == "*":
        return True
    allowed = make_url(entry)
    if _backend(allowed) != _backend(source):
        return False
    if _backend(source) == "sqlite":
        return _file_allowed(allowed.database or "", source.database or "")
    if allowed.username and allowed.username != source.username:
        return False
    if (allowed.host or "localhost") != (source.host or "localhost") or _port(allowed) != _port(source):
        return False
    return allowed.database in ("*", source.database)


def _file_allowed(pattern: str, path: str) -> bool:
    if not path or path == ":memory:":
        return False
    try:
        wanted = Path(path).resolve()
        if pattern.endswith("/*"):
            return wanted.is_relative_to(Path(pattern[:-2]).resolve())
        return wanted == Path(pattern).resolve()
    except (OSError, RuntimeError):
        return False


def _port(url: URL) -> int | None:
    return url.port or DEFAULT_PORTS.get(url.get_backend_name())


def _shown(url: URL) -> str:
    """The URL as an error may show it: without its password, nor its query string (a password may be there)."""
    return url.set(query={}).render_as_string(hide_password=True)
