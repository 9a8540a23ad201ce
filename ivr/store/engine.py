"""Opening the store: one URL (IVR_STORE_URL) for every command, SQLite in the data dir by default.

SQLite runs in WAL mode with a busy timeout: many worker processes write, the API reads,
and nobody waits on a reader. Writes take the write lock at BEGIN (BEGIN IMMEDIATE), so a
transaction never fails half-way on a lock it could not upgrade. PostgreSQL is the same
tables by `postgresql+psycopg://` URL.

The schema is Alembic's (migrations/versions); `migrate` brings a store to the newest
revision, once, under a lock, however many processes start together.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 15000


class StoreError(Exception):
    """The store cannot be opened or used; the message names the URL (without a password)."""


def default_url(data_dir: str | None = None) -> str:
    """IVR_STORE_URL, else the SQLite file in the data dir (IVR_DATA_DIR, default `data`)."""
    if os.environ.get("IVR_STORE_URL") and data_dir is None:
        return os.environ["IVR_STORE_URL"]
    base = data_dir if data_dir is not None else os.environ.get("IVR_DATA_DIR", "data")
    return f"sqlite:///{os.path.abspath(os.path.join(base, 'ivr.sqlite3'))}"


def safe_url(url: str) -> str:
    """The URL as it may be shown (the password hidden)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable store URL>"


def open_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StoreError(f"IVR_STORE_URL={safe_url(url)!r}: {e}") from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        if db and db != ":memory:":
            try:
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"store {db}: cannot create its folder ({e.strerror})") from None
        engine = create_engine(
            url, isolation_level="AUTOCOMMIT", connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a crash loses no committed row
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args={"connect_timeout": 5}
        )
    raise StoreError(
        f"IVR_STORE_URL={safe_url(url)!r}: only sqlite:/// and postgresql+psycopg:// are supported"
    )


class UserError(ValueError):
    """A change the records refuse (a user, an agent, a wrap-up, ...); the message says why."""


def inserted_id(result: Any) -> int:
    """The primary key of the row an INSERT made."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the insert returned no key")
    return int(key[0])


@contextlib.contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """One write transaction (SQLite: BEGIN IMMEDIATE, so it waits for the lock up front)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
    else:
        with engine.begin() as conn:
            yield conn


def _alembic_config(conn: Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def _head() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        db = engine.url.database or ""
        if not db or db == ":memory:":
            yield
            return
        with open(db + ".migrate-lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
    else:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(724311)"))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(724311)"))
                conn.commit()


def migrate(engine: Engine) -> str:
    """Bring the store to the newest revision (a no-op when it is there); returns it."""
    import logging

    logging.getLogger("alembic").setLevel(
        logging.WARNING
    )  # its import logs a line a plugin: noise in serve's log
    from alembic import command

    head = _head()
    try:
        if current_revision(engine) == head:
            return str(head)
        with _migration_lock(engine):
            if current_revision(engine) != head:  # another process may have done it meanwhile
                with engine.begin() as conn:
                    command.upgrade(_alembic_config(conn), "head")
    except OperationalError as e:
        raise StoreError(f"store {safe_url(str(engine.url))}: {e.orig}") from None
    except SQLAlchemyError as e:
        raise StoreError(f"store {safe_url(str(engine.url))}: {e}") from None
    return str(head)
