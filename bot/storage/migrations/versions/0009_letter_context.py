"""What a reply was drafted from (``reply.context``, JSON): its HTML part is drafted when a person
previews or approves it, from the same values as its text. Replies drafted before keep "" and
their HTML part as it was drafted.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reply") as batch:
        batch.add_column(sa.Column("context", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("reply") as batch:
        batch.drop_column("context")
