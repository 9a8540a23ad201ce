"""The queue: who waits for a human, since when, with which priority, and where they are.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_entries",
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("joined_at", sa.Float, nullable=False),
        sa.Column("skill", sa.String(64), nullable=False, server_default=""),
        sa.Column("reasons", sa.Text, nullable=False, server_default="[]"),
        sa.Column(
            "state", sa.String(16), nullable=False, server_default="waiting"
        ),  # waiting | offered | left
        sa.Column("agent", sa.String(64), nullable=False, server_default=""),
        sa.Column("host", sa.String(255), nullable=False, server_default=""),
        sa.Column("pid", sa.Integer, nullable=False, server_default="0"),
        sa.Column("left_at", sa.Float),
        sa.Column("leave_reason", sa.String(32), nullable=False, server_default=""),
        sa.Column("context", sa.Text, nullable=False, server_default="{}"),  # the screen pop (JSON)
    )
    op.create_index("ix_queue_entries_state_queue", "queue_entries", ["state", "queue"])


def downgrade() -> None:
    op.drop_table("queue_entries")
