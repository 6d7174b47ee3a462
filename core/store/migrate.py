"""Upgrade the database to the newest schema, from code (every service does this at start-up).

The bot and the workers of a one-machine deployment start at the same time, so two processes may migrate at
once: a lock serialises them (a lock file beside a SQLite database, an advisory lock on PostgreSQL) and the
second one finds the schema already at head.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from core.store.engine import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# An arbitrary constant shared by every Atelier process: the PostgreSQL advisory lock id for migrations.
_PG_LOCK_ID = 0x41_74_65_6C  # "Atel"


def alembic_config() -> Config:
    """The Alembic configuration, resolved from the installed package (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; ``None`` for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the newest revision."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        with _file_lock(path), engine.connect() as connection, _advisory_lock(connection):
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    finally:
        engine.dispose()


@contextmanager
def _file_lock(sqlite_file: Path | None) -> Iterator[None]:
    if sqlite_file is None:
        yield
        return
    with open(sqlite_file.with_name(sqlite_file.name + ".migrate-lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(connection: Connection) -> Iterator[None]:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
        connection.commit()
        try:
            yield
        finally:
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
            connection.commit()
        return
    yield
