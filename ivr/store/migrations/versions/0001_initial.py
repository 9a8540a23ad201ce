"""The first schema: callers, calls, call events, users, tokens.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callers",
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("account", sa.String(64), nullable=False, server_default=""),
        sa.Column("tier", sa.String(16), nullable=False, server_default="standard"),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("caller", sa.String(64), nullable=False, server_default=""),
        sa.Column("caller_name", sa.Text, nullable=False, server_default=""),
        sa.Column("caller_account", sa.String(64), nullable=False, server_default=""),
        sa.Column("caller_tier", sa.String(16), nullable=False, server_default=""),
        sa.Column("caller_known", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("source", sa.Text, nullable=False, server_default=""),
        sa.Column("host", sa.String(255), nullable=False, server_default=""),
        sa.Column("pid", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False, server_default="live"),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("answered_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("dialplan", sa.Text, nullable=False, server_default=""),
        sa.Column("dialplan_version", sa.Text, nullable=False, server_default=""),
        sa.Column("path", sa.Text, nullable=False, server_default="[]"),
        sa.Column("intents", sa.Text, nullable=False, server_default="[]"),
        sa.Column("tier", sa.String(16), nullable=False, server_default=""),
        sa.Column("queue", sa.String(64), nullable=False, server_default=""),
        sa.Column("transfer_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("outcome", sa.String(32), nullable=False, server_default=""),
        sa.Column("end_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("anger_max", sa.Float),
        sa.Column("anxiety_max", sa.Float),
        sa.Column("affect_level", sa.String(16), nullable=False, server_default=""),
        sa.Column("turns", sa.Integer, nullable=False, server_default="0"),
        sa.Column("recording_path", sa.Text, nullable=False, server_default=""),
        sa.Column("recording_ms", sa.Integer),
        sa.Column("recording_purged", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("transcript_purged", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_outcome_started", "calls", ["outcome", "started_at"])
    op.create_index("ix_calls_status_host", "calls", ["status", "host"])
    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(128), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("t_ms", sa.Integer, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.UniqueConstraint("call_id", "seq", name="uq_call_events_call_seq"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_tokens_expires_at", "tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_table("users")
    op.drop_table("call_events")
    op.drop_table("calls")
    op.drop_table("callers")
