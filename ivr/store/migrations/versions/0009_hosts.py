"""Hosts: every media and speech machine announces itself with a heartbeat row, so the edge
dispatches to the live ones and the survivors clean up after one that stops beating.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("address", sa.String(255), nullable=False, server_default=""),
        sa.Column("ports", sa.Text, nullable=False, server_default="[]"),
        sa.Column("capacity", sa.Integer, nullable=False, server_default="0"),
        sa.Column("load", sa.Integer, nullable=False, server_default="0"),
        sa.Column("state", sa.String(16), nullable=False, server_default="up"),
        sa.Column("pid", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
        sa.Column("lost_at", sa.Float),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_hosts_role_state", "hosts", ["role", "state"])


def downgrade() -> None:
    op.drop_index("ix_hosts_role_state", table_name="hosts")
    op.drop_table("hosts")
