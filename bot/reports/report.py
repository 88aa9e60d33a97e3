"""What staff and scripts see of claims: plain dicts with stable keys (documented in README.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlmodel import Session

from bot.storage import store


def claim_summaries(session: Session) -> list[dict[str, Any]]:
    summaries = []
    for claim in store.claims(session):
        orders = []
        totals: dict[str, Decimal] = {}
        for row in store.claim_orders(session, claim_id=claim.id or 0):
            remedies = []
            for remedy, amount in (("best_price", row.best_price_amount), ("restore", row.restore_amount)):
                if amount is not None:
                    remedies.append({"remedy": remedy, "amount": str(amount), "currency": row.currency})
            eligible = row.outcome == "eligible"
            if eligible and remedies:
                chosen = row.chosen_remedy or (
                    "best_price" if row.best_price_amount is not None else "restore"
                )
                amount = row.best_price_amount if chosen == "best_price" else row.restore_amount
                totals[row.currency] = totals.get(row.currency, Decimal(0)) + (amount or Decimal(0))
            orders.append(
                {
                    "ticket": row.ticket,
                    "account": row.login or None,
                    "claimed_as": row.claimed_as,
                    "eligible": eligible,
                    "reason": "" if eligible else row.outcome,
                    "category": row.category,
                    "symbol": row.symbol,
                    "remedies": remedies,
                    "chosen_remedy": row.chosen_remedy,
                    "adjusted_open_price": None
                    if row.adjusted_open_price is None
                    else str(row.adjusted_open_price),
                    "explanation": row.explanation,
                }
            )
        summaries.append(
            {
                "reference": claim.reference,
                "status": str(claim.status),
                "incident": claim.incident,
                "language": claim.language,
                "sender": claim.sender,
                "sender_verified": claim.sender_verified,
                "account": claim.account_login,
                "accounts": store.claim_accounts(session, claim_id=claim.id or 0),
                "received": claim.created_at.isoformat(),
                "consent_deadline": claim.consent_deadline.isoformat() if claim.consent_deadline else None,
                "orders": orders,
                "total": {ccy: str(amount) for ccy, amount in totals.items()},
                "owner": claim.owner or None,
            }
        )
    return summaries
