"""Callbacks and line reservation in the queue: a caller who asked to be called back keeps
their place (state `callback`, the number to dial, attempts so far, when to try next); a
waiting caller whose worker has no line for an agent leg is passed over (`ready` false)
rather than holding the agent for everyone behind them. And each answered call's handle
time (the expected wait is reckoned from every worker's), and an index for a caller's past
calls (the agent's briefing reads them).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queue_entries") as batch:
        batch.add_column(sa.Column("callback", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_try_at", sa.Float, nullable=False, server_default="0"))
        batch.add_column(sa.Column("ready", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("handle_s", sa.Float))  # how long the agent had the call
    op.create_index("ix_queue_entries_queue_left", "queue_entries", ["queue", "left_at"])
    op.create_index("ix_calls_caller_started", "calls", ["caller", "started_at"])  # a caller's past calls


def downgrade() -> None:
    op.drop_index("ix_calls_caller_started", "calls")
    op.drop_index("ix_queue_entries_queue_left", "queue_entries")
    with op.batch_alter_table("queue_entries") as batch:
        for name in ("handle_s", "ready", "next_try_at", "attempts", "callback"):
            batch.drop_column(name)
