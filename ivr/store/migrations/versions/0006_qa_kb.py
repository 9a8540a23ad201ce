"""Learning from calls: the QA screening of every ended call (risk score, named flags with
evidence, whether it was drawn for review), supervisors' reviews on the admin's form, the
knowledge base's approved entries (versioned: an edit or a rollback is a new active row),
and each use of an entry in a call (what the call came to after it).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qa_results",
        sa.Column("call_id", sa.String(128), primary_key=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("flags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("facts", sa.Text, nullable=False, server_default="{}"),
        sa.Column("screened_at", sa.Float, nullable=False),
        sa.Column("review", sa.String(16), nullable=False, server_default=""),
        sa.Column("sample_reason", sa.String(16), nullable=False, server_default=""),
    )
    op.create_index("ix_qa_results_day_score", "qa_results", ["day", "score"])
    op.create_index("ix_qa_results_review", "qa_results", ["review", "day"])
    op.create_table(
        "qa_reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("form", sa.String(64), nullable=False, server_default=""),
        sa.Column("answers", sa.Text, nullable=False, server_default="{}"),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("ai_score", sa.Float, nullable=False),
        sa.Column("agrees", sa.Boolean, nullable=False),
        sa.Column("wrong_flags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_qa_reviews_call", "qa_reviews", ["call_id"])
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("questions", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("retired", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("author", sa.String(64), nullable=False, server_default=""),
        sa.Column("candidates", sa.Text, nullable=False, server_default="[]"),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("key", "version", name="uq_kb_entries_key_version"),
    )
    op.create_index("ix_kb_entries_active", "kb_entries", ["active"])
    op.create_table(
        "kb_uses",
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("t_ms", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("call_id", "key", "t_ms", name="pk_kb_uses"),
    )
    op.create_index("ix_kb_uses_key", "kb_uses", ["key", "version"])
    with op.batch_alter_table("kb_candidates") as b:
        b.add_column(sa.Column("entry_key", sa.String(64), nullable=False, server_default=""))
        b.add_column(sa.Column("decided_by", sa.String(64), nullable=False, server_default=""))
        b.add_column(sa.Column("decided_at", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("kb_candidates") as b:
        b.drop_column("decided_at")
        b.drop_column("decided_by")
        b.drop_column("entry_key")
    op.drop_index("ix_kb_uses_key", "kb_uses")
    op.drop_table("kb_uses")
    op.drop_index("ix_kb_entries_active", "kb_entries")
    op.drop_table("kb_entries")
    op.drop_index("ix_qa_reviews_call", "qa_reviews")
    op.drop_table("qa_reviews")
    op.drop_index("ix_qa_results_review", "qa_results")
    op.drop_index("ix_qa_results_day_score", "qa_results")
    op.drop_table("qa_results")
