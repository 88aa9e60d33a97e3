"""Claims that span a client's accounts: the accounts each claim covers (``claim_account``) and
the account each claimed order is in (``claimorder.login``). Existing claims cover the one
account they had.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_account",
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("login", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("by_email", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"]),
        sa.PrimaryKeyConstraint("claim_id", "login"),
    )
    op.create_index(op.f("ix_claim_account_login"), "claim_account", ["login"], unique=False)
    with op.batch_alter_table("claimorder") as table:
        table.add_column(
            sa.Column("login", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="")
        )
    op.execute(
        "INSERT INTO claim_account (claim_id, login, by_email) "
        "SELECT id, account_login, false FROM claim WHERE account_login IS NOT NULL"
    )
    op.execute(
        "UPDATE claimorder SET login = (SELECT trade_order.login FROM trade_order "
        "WHERE trade_order.ticket = claimorder.ticket) "
        "WHERE EXISTS (SELECT 1 FROM trade_order WHERE trade_order.ticket = claimorder.ticket)"
    )


def downgrade() -> None:
    with op.batch_alter_table("claimorder") as table:
        table.drop_column("login")
    op.drop_index(op.f("ix_claim_account_login"), table_name="claim_account")
    op.drop_table("claim_account")
