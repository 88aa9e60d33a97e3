"""The workspace at scale: a claim's owner and its internal notes (``claim_note``), each staff
user's language and time zone, a reply's text as drafted before an edit (``drafted_text``), and
a reply's amount in hundredths (``amount_minor``), which the queue's minimum-amount filter
compares in SQL on SQLite too, with the indexes the queue's counts by kind and amount are read
from.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, Decimal

import sqlalchemy as sa
from alembic import op

import bot.storage.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("at", bot.storage.tables.UTCDateTime(), nullable=False),
        sa.Column("author", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_claim_note_claim_id"), "claim_note", ["claim_id"], unique=False)
    with op.batch_alter_table("claim") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=120), nullable=False, server_default=""))
        batch.create_index(batch.f("ix_claim_owner"), ["owner"], unique=False)
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=False, server_default=""))
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=False, server_default=""))
    with op.batch_alter_table("reply") as batch:
        batch.add_column(sa.Column("amount_minor", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("drafted_text", sa.Text(), nullable=False, server_default=""))
        batch.create_index("ix_reply_status_kind", ["status", "kind"], unique=False)
        batch.create_index("ix_reply_status_amount", ["status", "amount_minor"], unique=False)
    reply = sa.table(
        "reply",
        sa.column("id", sa.Integer()),
        sa.column("amount", sa.String()),
        sa.column("amount_minor", sa.BigInteger()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(reply.c.id, reply.c.amount).where(reply.c.amount.is_not(None))).all()
    for reply_id, amount in rows:
        minor = int((Decimal(str(amount)) * 100).to_integral_value(ROUND_CEILING))
        connection.execute(reply.update().where(reply.c.id == reply_id).values(amount_minor=minor))


def downgrade() -> None:
    with op.batch_alter_table("reply") as batch:
        batch.drop_index("ix_reply_status_amount")
        batch.drop_index("ix_reply_status_kind")
        batch.drop_column("drafted_text")
        batch.drop_column("amount_minor")
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("timezone")
        batch.drop_column("language")
    with op.batch_alter_table("claim") as batch:
        batch.drop_index(batch.f("ix_claim_owner"))
        batch.drop_column("owner")
    op.drop_index(op.f("ix_claim_note_claim_id"), table_name="claim_note")
    op.drop_table("claim_note")
