"""Alembic's environment: migrations run on the connection `ivr.store.engine.migrate` hands over
(or on IVR_STORE_URL when alembic is run by hand with migrations/alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ivr.store.engine import default_url
from ivr.store.tables import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or default_url())
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
