"""A batch in hand (``mailboxcursor.in_hand_through``): the worker stores a batch of messages in
one commit, and a run that died with one in hand is not taken to have been killed by its first
message; the next run reads that batch one message at a time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mailboxcursor") as batch:
        batch.add_column(sa.Column("in_hand_through", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailboxcursor") as batch:
        batch.drop_column("in_hand_through")
