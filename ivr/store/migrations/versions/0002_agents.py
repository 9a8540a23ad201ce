"""Agents: a user who takes calls, their skills and level, their state, and the SIP digest
credentials Kamailio's registrar checks (HA1 only, never the password).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("name", sa.String(64), sa.ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("skills", sa.Text, nullable=False, server_default="[]"),
        sa.Column("level", sa.Integer, nullable=False, server_default="1"),
        sa.Column("state", sa.String(16), nullable=False, server_default="logged_out"),
        sa.Column("since", sa.Float, nullable=False, server_default="0"),
        sa.Column("missed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("call_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("sip_domain", sa.String(255), nullable=False, server_default=""),
        sa.Column("ha1", sa.String(64), nullable=False, server_default=""),
        sa.Column("ha1b", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_agents_state", "agents", ["state"])


def downgrade() -> None:
    op.drop_table("agents")
