"""A claim order's computation as figures (``claimorder.workings``, JSON), from which each letter
words it in the client's language and zone. Orders assessed before keep "" and their letters
state the computation in the English copy only.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claimorder") as batch:
        batch.add_column(sa.Column("workings", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("claimorder") as batch:
        batch.drop_column("workings")
