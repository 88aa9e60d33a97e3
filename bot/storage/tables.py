"""Database tables. Portable between SQLite (the embedded default) and PostgreSQL.

Money is stored exactly (NUMERIC on PostgreSQL, decimal text on SQLite, which has no exact
decimal type) and timestamps are stored in UTC and always read back timezone-aware.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, Index, LargeBinary, String, Text, UniqueConstraint, event, text
from sqlmodel import Field, SQLModel

from bot.storage.types import Money, UTCDateTime, hundredths


def utcnow() -> datetime:
    return datetime.now(UTC)


def _when(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


def _money(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(Money(), nullable=nullable))


# Per table: each field that has a default, with its default factory or its default.
_DEFAULTS: dict[type, tuple[tuple[str, Callable[[], Any] | None, Any], ...]] = {}


class Row:
    """A table a batch writes about ten new rows of a message: a new row's values and defaults
    are its state at once, from which the flush inserts it. SQLModel's constructor sets each
    field through two layers of attribute hooks (27 µs a row against 16 µs); it validates nothing."""

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        fields = cls.model_fields  # type: ignore[attr-defined]
        defaults = _DEFAULTS.get(cls)
        if defaults is None:
            defaults = tuple(
                (n, f.default_factory, f.default) for n, f in fields.items() if not f.is_required()
            )
            _DEFAULTS[cls] = defaults
        if unknown := values.keys() - fields.keys():
            raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
        state = self.__dict__
        for name, factory, default in defaults:
            if name not in values:
                state[name] = factory() if factory is not None else default
        state.update(values)
        object.__setattr__(self, "__pydantic_fields_set__", set(values))


class MessageStatus(StrEnum):
    CLAIM = "claim"
    FOLLOWUP = "followup"
    AUTOMATED = "automated"
    NOT_COMPLAINT = "not_complaint"
    QUARANTINED = "quarantined"
    # Looked at by a person and set aside for good (the raw message is still kept).
    DISCARDED = "discarded"


class State(StrEnum):
    """Where a claim is in its lifecycle (``bot.claims.lifecycle`` says which moves are legal)."""

    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    NEEDS_INFORMATION = "needs_information"
    ASSESSED = "assessed"
    OFFER_SENT = "offer_sent"
    CONSENTED = "consented"
    REFUSED = "refused"
    SETTLED = "settled"
    REJECTED = "rejected"
    ESCALATED = "escalated"


class ReplyStatus(StrEnum):
    """Where a reply is in the outbox. ``second_approval``: a large offer approved once, waiting
    for a manager's. ``approved``: waiting for the sending job (which retries temporary failures).
    ``withdrawn``: never decided on, because its claim closed first."""

    DRAFT = "draft"
    SECOND_APPROVAL = "second_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    SENDING = "sending"
    SENT = "sent"
    UNCERTAIN = "uncertain"
    FAILED = "failed"


class MailboxCursor(SQLModel, table=True):
    """How far the worker has read one IMAP folder."""

    id: int | None = Field(default=None, primary_key=True)
    folder: str = Field(sa_column=Column(String(255), unique=True, nullable=False))
    # IMAP UIDs and UIDVALIDITY are unsigned 32-bit: above PostgreSQL's INTEGER.
    uidvalidity: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_uid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    # The message being read, marked in the commit that stores the one before it: still set at
    # the next start, the previous run died with this message in hand.
    in_hand_uid: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Which run of which worker set it: the same run finding it after an error of its own
    # (a database or template failure) did not die.
    in_hand_by: str = ""
    # Set when a whole batch was in hand (UIDs ``in_hand_uid`` to this one, stored in one
    # commit): a run that died then is not known to have been killed by the first of them, so
    # the next reads that batch one message at a time, and the message in hand then is named.
    in_hand_through: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class IntakeAttempt(SQLModel, table=True):
    """A message a run died with in hand: how many runs did. At ``[intake] max_kills`` it is
    kept for a person instead of being read again."""

    content_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    folder: str
    uid: int = Field(sa_column=Column(BigInteger, nullable=False))
    deaths: int = 0
    started_at: datetime = _when(nullable=False)


class InboundMessage(Row, SQLModel, table=True):
    """Every message read from the mailbox, kept byte for byte whatever became of it."""

    __table_args__ = (Index("ix_inbound_pending_archive", "archived", "folder"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str | None = Field(default=None, sa_column=Column(String(998), unique=True))
    content_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # Messages over a megabyte are kept as data_dir/messages/<content_hash>.eml instead of ``raw``.
    raw_path: str = ""
    folder: str
    uidvalidity: int = Field(sa_column=Column(BigInteger, nullable=False))
    uid: int = Field(sa_column=Column(BigInteger, nullable=False))
    received_at: datetime = _when(nullable=False)
    sender: str = ""
    subject: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: MessageStatus = Field(sa_column=Column(String(32), nullable=False))
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    claim_id: int | None = Field(default=None, foreign_key="claim.id", index=True)
    archived: bool = False
    # What the extract stage read in it (JSON: number, kind, evidence), for the page to show.
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Account(SQLModel, table=True):
    # Every batch looks its senders' addresses up (revision 0010).
    __table_args__ = (Index("ix_account_email_lower", text("lower(email)")),)
    login: str = Field(primary_key=True)
    name: str
    email: str
    currency: str


class Symbol(SQLModel, table=True):
    symbol: str = Field(primary_key=True)
    contract_size: Decimal = _money()
    profit_currency: str
    digits: int


class TradeOrder(SQLModel, table=True):
    """One position: an MT4 order, or an MT5 position rebuilt from its deals."""

    __tablename__ = "trade_order"

    ticket: str = Field(primary_key=True)
    login: str = Field(index=True)
    symbol: str
    side: str
    lots: Decimal = _money()
    open_time: datetime = _when(nullable=False)
    open_price: Decimal = _money()
    close_time: datetime | None = _when(nullable=True)
    close_price: Decimal | None = _money(nullable=True)
    close_reason: str = ""
    commission: Decimal = Field(default=Decimal(0), sa_column=Column(Money(), nullable=False))
    swap: Decimal = Field(default=Decimal(0), sa_column=Column(Money(), nullable=False))
    profit: Decimal | None = _money(nullable=True)


class TicketAlias(SQLModel, table=True):
    """Another number a client may call an order by (an MT5 deal or order ticket), and its position."""

    __tablename__ = "ticket_alias"

    alias: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    login: str = Field(index=True)
    ticket: str = Field(index=True)


class WindowQuote(SQLModel, table=True):
    """Extremes of the reference feed over one incident window, computed once per symbol."""

    __tablename__ = "window_quote"

    incident: str = Field(primary_key=True)
    symbol: str = Field(primary_key=True)
    # The window the extremes were computed for: an edited incident recomputes them.
    window_start: datetime | None = _when(nullable=True)
    window_end: datetime | None = _when(nullable=True)
    low_bid: Decimal | None = _money(nullable=True)
    low_bid_time: datetime | None = _when(nullable=True)
    high_bid: Decimal | None = _money(nullable=True)
    high_bid_time: datetime | None = _when(nullable=True)
    low_ask: Decimal | None = _money(nullable=True)
    low_ask_time: datetime | None = _when(nullable=True)
    high_ask: Decimal | None = _money(nullable=True)
    high_ask_time: datetime | None = _when(nullable=True)
    last_mid: Decimal | None = _money(nullable=True)
    last_time: datetime | None = _when(nullable=True)
    ticks: int = 0


class ImportAudit(SQLModel, table=True):
    """A trade record that a later import changed: what it was, what it became, from where."""

    __tablename__ = "import_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(nullable=False)
    file: str
    line: int
    record: str
    key: str
    before: str = Field(sa_column=Column(Text, nullable=False))
    after: str = Field(sa_column=Column(Text, nullable=False))


class Tick(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("symbol", "time", name="uq_tick_symbol_time"),)

    id: int | None = Field(default=None, primary_key=True)
    symbol: str
    time: datetime = _when(nullable=False)
    bid: Decimal = _money()
    ask: Decimal = _money()


class Claim(Row, SQLModel, table=True):
    # Named by hand: the automatic name would be claim_account's index on its login.
    __table_args__ = (Index("ix_claim_first_account", "account_login"),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str | None = Field(default=None, sa_column=Column(String(32), unique=True))
    incident: str
    status: State = Field(sa_column=Column(String(32), nullable=False, index=True))
    sender: str = Field(index=True)
    claimant_name: str = ""
    account_login: str | None = None
    sender_verified: bool = False
    language: str = "en"
    request: str = "unspecified"
    created_at: datetime = _when(nullable=False)
    consent_deadline: datetime | None = _when(nullable=True)
    offered_at: datetime | None = _when(nullable=True)
    closed_at: datetime | None = _when(nullable=True)
    # An answer to the offer that proved nothing (best_price, restore, refused or agree), held
    # until the client confirms it by replying to the confirmation letter.
    pending_consent: str = ""
    pending_consent_at: datetime | None = _when(nullable=True)
    # The Message-ID of the letter that asks about it: only a reply citing it confirms.
    pending_consent_letter: str = ""
    # The person working the claim ("" for nobody yet).
    owner: str = Field(default="", sa_column=Column(String(120), nullable=False, default="", index=True))


class ClaimAccount(Row, SQLModel, table=True):
    """An account a claim covers: the sender is its registered address (``claim.account_login``
    is the first of them, kept for one-account claims)."""

    __tablename__ = "claim_account"

    claim_id: int = Field(foreign_key="claim.id", primary_key=True)
    login: str = Field(primary_key=True, index=True)
    # Named by no number in the message: found from the sender's registered address.
    by_email: bool = False


class ClaimOrder(Row, SQLModel, table=True):
    """One order a claim is about, with its outcome and the remedies offered."""

    __table_args__ = (UniqueConstraint("claim_id", "ticket"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    ticket: str = Field(index=True)
    # The covered account holding the order ("" when none does).
    login: str = ""
    claimed_as: str = Field(default="", index=True)
    outcome: str
    category: int | None = None
    symbol: str = ""
    currency: str = ""
    best_price: Decimal | None = _money(nullable=True)
    best_price_amount: Decimal | None = _money(nullable=True)
    restore_amount: Decimal | None = _money(nullable=True)
    adjusted_open_price: Decimal | None = _money(nullable=True)
    explanation: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The same, as figures (JSON: remedy kind -> ``bot.stages.assess.Workings``), from which each
    # letter words the computation in the client's language; "" for orders assessed before 0007.
    workings: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    chosen_remedy: str | None = None
    chosen_at: datetime | None = _when(nullable=True)


class ClaimEvent(Row, SQLModel, table=True):
    """Append-only history of a claim: who or what did what, when and why."""

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    at: datetime = _when(nullable=False)
    actor: str
    event: str
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Set when the event moved the claim from one lifecycle state to another.
    from_state: str | None = None
    to_state: str | None = None


class Reply(Row, SQLModel, table=True):
    """A drafted reply in the outbox; it leaves only after a person approves it."""

    __table_args__ = (
        Index("ix_reply_to_address_created", "to_address", "created_at"),
        # The queue's counts by kind and its minimum-amount filter, read from the index alone.
        Index("ix_reply_status_kind", "status", "kind"),
        Index("ix_reply_status_amount", "status", "amount_minor"),
    )

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    kind: str
    language: str
    to_address: str
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # What the letter was drafted from (``bot.stages.letter_context``, JSON): its HTML part is
    # drafted from it when a person previews or approves it ("" for replies drafted whole).
    context: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The largest amount the reply states, for the approval rules and the queue's filter.
    amount: Decimal | None = _money(nullable=True)
    # ``amount`` in hundredths, rounded up: a number SQLite compares as one (it keeps money as text).
    amount_minor: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str = ""
    message_id: str = Field(sa_column=Column(String(998), unique=True, nullable=False))
    in_reply_to: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    references: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: ReplyStatus = Field(sa_column=Column(String(32), nullable=False, index=True))
    created_at: datetime = _when(nullable=False)
    decided_at: datetime | None = _when(nullable=True)
    decided_by: str = ""
    # "bot", or the person whose action drafted it (a rejection, a final response): never its approver.
    drafted_by: str = "bot"
    first_approved_by: str = ""
    edited_by: str = ""
    # The text as drafted, kept by the first edit, so that the page can show what the edit changed.
    drafted_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    attempts: int = 0
    next_attempt_at: datetime | None = _when(nullable=True)
    sent_at: datetime | None = _when(nullable=True)
    sent_path: str = ""
    failure: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class StaffUser(SQLModel, table=True):
    """A person who works the approval queue; the password is kept only as an Argon2 hash."""

    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(120), unique=True, nullable=False))
    role: str
    password_hash: str
    created_at: datetime = _when(nullable=False)
    active: bool = True
    # The page's language and time zone this person chose ("" for the defaults).
    language: str = Field(default="", sa_column=Column(String(16), nullable=False, default=""))
    timezone: str = Field(default="", sa_column=Column(String(64), nullable=False, default=""))


@event.listens_for(Reply, "before_insert")
@event.listens_for(Reply, "before_update")
def _amount_minor(mapper: Any, connection: Any, reply: Reply) -> None:
    reply.amount_minor = None if reply.amount is None else hundredths(reply.amount)
