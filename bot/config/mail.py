"""The mail system's settings: the complaint mailbox (``[imap]``), the outgoing server
(``[smtp]``) and what the intake trusts (``[intake]``)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from bot.config.base import Section


class ImapSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(993, ge=1, le=65535)
    ssl: bool = True
    username: str = ""
    password: SecretStr = SecretStr("")
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    max_message_bytes: int = Field(50_000_000, ge=0)
    idle: bool = True
    idle_seconds: int = Field(600, ge=10, le=1700)
    max_backoff_seconds: int = Field(300, ge=1)
    timeout: float = Field(30.0, gt=0)
    batch_size: int = Field(100, ge=1)


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(587, ge=1, le=65535)
    security: str = Field("starttls", pattern="^(none|starttls|ssl)$")
    username: str = ""
    password: SecretStr = SecretStr("")
    from_address: str = "complaint@broker.example"
    from_name: str = "Client Services"
    return_path: str = "bounces@broker.example"
    message_id_domain: str = "claims.broker.example"
    timeout: float = Field(30.0, gt=0)
    # IMAP folder a copy of every sent reply is appended to; empty: none.
    sent_folder: str = ""
    # First wait after a temporary SMTP failure; it doubles on each further failure.
    retry_seconds: int = Field(60, ge=1)
    # Temporary failures before the reply is shown to staff as failed.
    max_attempts: int = Field(8, ge=1)


class IntakeSettings(Section):
    # The receiving server's authserv-id; set, consent needs its DMARC (or aligned DKIM) pass.
    authserv_id: str = ""
    # Runs that may die with one message in hand before it is kept for a person unread.
    max_kills: int = Field(2, ge=1)
