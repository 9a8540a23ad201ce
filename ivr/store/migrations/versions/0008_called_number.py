"""The number a call came in on (E.164, or the SIP user called), that line's name and its
callers' language from the numbers file: the console and the report show and split calls by it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("called", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("line", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("language", sa.String(35), nullable=False, server_default=""))
    op.create_index("ix_calls_called_started", "calls", ["called", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_called_started", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("language")
        batch.drop_column("line")
        batch.drop_column("called")
