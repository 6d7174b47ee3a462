"""/train: consent records, accepted selfies, identity models, per-user settings and job results.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("use_identity", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("keep_selfies", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("result", sa.JSON(), nullable=True))
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("text_version", sa.String(32), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_consents_user", "consents", ["platform", "user_id"])
    op.create_table(
        "selfies",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("aligned_key", sa.String(255), nullable=False),
        sa.Column("raw_key", sa.String(255), nullable=True),
        sa.Column("embedding", sa.JSON(), nullable=False),
        sa.Column("landmarks", sa.JSON(), nullable=False),
        sa.Column("face_px", sa.Integer(), nullable=False),
        sa.Column("sharpness", sa.Float(), nullable=False),
        sa.Column("dhash", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_selfies_user", "selfies", ["platform", "user_id"])
    op.create_table(
        "identity_models",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("base_model", sa.String(255), nullable=False),
        sa.Column("adapter_key", sa.String(255), nullable=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("selfies", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("platform", "user_id", "base_model", name="uq_identity_models_user_base"),
    )


def downgrade() -> None:
    op.drop_table("identity_models")
    op.drop_index("ix_selfies_user", "selfies")
    op.drop_table("selfies")
    op.drop_index("ix_consents_user", "consents")
    op.drop_table("consents")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("result")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("keep_selfies")
        batch.drop_column("use_identity")
