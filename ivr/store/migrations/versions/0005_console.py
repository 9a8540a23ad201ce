"""The console's records: an agent's wrap-up of each call (disposition and resolution note),
the knowledge-base candidates agents suggest in it (the QA issue reviews them), and a
supervisor's monitoring of a live call (listen, whisper or barge through their own phone;
the worker holding the call reads its row and dials the supervisor).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wrapups",
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("disposition", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_wrapups_agent_created", "wrapups", ["agent", "created_at"])
    op.create_table(
        "kb_candidates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("agent", sa.String(64), nullable=False, server_default=""),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="new"),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_kb_candidates_state", "kb_candidates", ["state", "created_at"])
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("supervisor", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="requested"),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_monitors_call_state", "monitors", ["call_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_monitors_call_state", "monitors")
    op.drop_table("monitors")
    op.drop_index("ix_kb_candidates_state", "kb_candidates")
    op.drop_table("kb_candidates")
    op.drop_index("ix_wrapups_agent_created", "wrapups")
    op.drop_table("wrapups")
