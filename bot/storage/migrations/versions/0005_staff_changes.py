"""The staff workspace: every change to a person's access (``staff_change``: added, disabled,
enabled, role changed, password reset), with who made it; and the indexes the search uses
(a claim's sender and first account, the number a client wrote for an order).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.storage.tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("user_name", sa.String(length=120), nullable=False),
        sa.Column("change", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_staff_change_user_name"), "staff_change", ["user_name"], unique=False)
    op.create_index(op.f("ix_claim_sender"), "claim", ["sender"], unique=False)
    op.create_index("ix_claim_first_account", "claim", ["account_login"], unique=False)
    op.create_index(op.f("ix_claimorder_claimed_as"), "claimorder", ["claimed_as"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_claimorder_claimed_as"), table_name="claimorder")
    op.drop_index("ix_claim_first_account", table_name="claim")
    op.drop_index(op.f("ix_claim_sender"), table_name="claim")
    op.drop_index(op.f("ix_staff_change_user_name"), table_name="staff_change")
    op.drop_table("staff_change")
