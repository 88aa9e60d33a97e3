"""Hostile mail: the message a run had in hand when it died (``mailbox_cursor.in_hand_uid``),
the runs that died with each message in hand (``intake_attempt``), an answer to an offer
held until the client confirms it (``claim.pending_consent``, ``pending_consent_at``), and what
extraction read in each message (``inboundmessage.evidence``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.storage.tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intakeattempt",
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("folder", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("deaths", sa.Integer(), nullable=False),
        sa.Column("started_at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash"),
    )
    with op.batch_alter_table("mailboxcursor") as table:
        table.add_column(sa.Column("in_hand_uid", sa.BigInteger(), nullable=True))
        table.add_column(
            sa.Column("in_hand_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="")
        )
    with op.batch_alter_table("inboundmessage") as table:
        table.add_column(sa.Column("evidence", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("claim") as table:
        table.add_column(
            sa.Column(
                "pending_consent", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""
            )
        )
        table.add_column(sa.Column("pending_consent_at", bot.storage.tables.UTCDateTime(), nullable=True))
        table.add_column(
            sa.Column(
                "pending_consent_letter",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("claim") as table:
        table.drop_column("pending_consent_letter")
        table.drop_column("pending_consent_at")
        table.drop_column("pending_consent")
    with op.batch_alter_table("inboundmessage") as table:
        table.drop_column("evidence")
    with op.batch_alter_table("mailboxcursor") as table:
        table.drop_column("in_hand_by")
        table.drop_column("in_hand_uid")
    op.drop_table("intakeattempt")
