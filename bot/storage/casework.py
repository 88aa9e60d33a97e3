"""What staff keep about a claim for each other: internal notes, which never reach the client."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, String, Text
from sqlmodel import Field, Session, SQLModel, select

from bot.storage.tables import utcnow
from bot.storage.types import UTCDateTime

NOTE_LENGTH = 4000


class ClaimNote(SQLModel, table=True):
    """A note one person left on a claim for the others (never in a letter)."""

    __tablename__ = "claim_note"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    author: str = Field(sa_column=Column(String(120), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))


def add_note(session: Session, *, claim_id: int, author: str, text: str) -> ClaimNote:
    note = ClaimNote(claim_id=claim_id, at=utcnow(), author=author, text=text)
    session.add(note)
    session.flush()
    return note


def notes(session: Session, *, claim_id: int) -> Sequence[ClaimNote]:
    stmt = select(ClaimNote).where(ClaimNote.claim_id == claim_id).order_by(ClaimNote.id)  # type: ignore[arg-type]
    return session.exec(stmt).all()
