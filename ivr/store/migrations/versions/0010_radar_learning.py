"""The radar learns: people's labels of upset callers, the retrained radar models (versioned,
approved, reversible) and the admin's settings (the false-alarm budget).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "radar_labels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("started_ms", sa.Integer),
        sa.Column("author", sa.String(64), nullable=False, server_default=""),
        sa.Column("features", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("call_id", "source", name="uq_radar_labels_call_source"),
    )
    op.create_index("ix_radar_labels_created", "radar_labels", ["created_at"])
    op.create_table(
        "radar_models",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="proposed"),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("report", sa.Text, nullable=False, server_default="{}"),
        sa.Column("since", sa.String(32), nullable=False, server_default=""),
        sa.Column("budget", sa.Float, nullable=False, server_default="0"),
        sa.Column("replaces", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("decided_at", sa.Float),
    )
    op.create_index("ix_radar_models_state", "radar_models", ["state"])
    op.create_table(
        "admin_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("admin_settings")
    op.drop_index("ix_radar_models_state", table_name="radar_models")
    op.drop_table("radar_models")
    op.drop_index("ix_radar_labels_created", table_name="radar_labels")
    op.drop_table("radar_labels")
