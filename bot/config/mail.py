"""The mail system's settings: the complaint mailbox (``[imap]``), the outgoing server
(``[smtp]``) and what the intake trusts (``[intake]``)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator

from bot.config.base import Section

PROVIDERS = ("microsoft", "google", "command")
# What each provider's token is asked for when ``scope`` is left empty.
DEFAULT_SCOPES = {"microsoft": "https://outlook.office365.com/.default", "google": "https://mail.google.com/"}


class OAuth2Settings(Section):
    """Where an XOAUTH2 login's access token comes from (``[imap.oauth2]``, ``[smtp.oauth2]``).

    ``microsoft``: an Entra ID application's client-credentials flow (``tenant``, ``client_id``,
    and ``client_secret`` or a ``certificate_file`` with its ``certificate_thumbprint``), the
    application given IMAP.AccessAsApp / SMTP.SendAsApp for the mailbox. ``google``: a service
    account with domain-wide delegation (``service_account_file``; ``subject`` is the mailbox,
    by default the login name). ``command``: a program run without a shell whose first line of
    output is the token (as fetchmail and mbsync users do).
    """

    provider: str = Field("", pattern="^(|microsoft|google|command)$")
    tenant: str = ""
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    certificate_file: Path | None = None
    certificate_thumbprint: str = ""
    # The identity provider's address: Entra ID's public cloud unless a national cloud (or a test).
    authority: str = "https://login.microsoftonline.com"
    service_account_file: Path | None = None
    subject: str = ""
    command: list[str] = Field(default_factory=list)
    # How long a command's token is used before the command is run again (it says no expiry).
    command_token_seconds: int = Field(300, ge=1)
    # Empty: the provider's scope for mail (DEFAULT_SCOPES).
    scope: str = ""
    # A token is renewed this long before it expires.
    refresh_before_seconds: int = Field(300, ge=0)
    # Certificates of the identity provider's HTTPS endpoint; empty: the system's.
    ca_file: Path | None = None

    @model_validator(mode="after")
    def _provider_keys(self) -> Self:
        needed = {
            "microsoft": ["tenant", "client_id"],
            "google": ["service_account_file"],
            "command": ["command"],
        }.get(self.provider, [])
        missing = [key for key in needed if not getattr(self, key)]
        if self.provider == "microsoft" and not (
            self.client_secret.get_secret_value() or self.certificate_file
        ):
            missing.append("client_secret (or certificate_file)")
        if missing:
            raise ValueError(f"provider {self.provider} needs {', '.join(missing)}")
        return self

    @property
    def token_scope(self) -> str:
        return self.scope or DEFAULT_SCOPES.get(self.provider, "")


class _Login(Section):
    """How a mail server is logged in to: a password, or an OAuth2 token (XOAUTH2)."""

    auth: str = Field("password", pattern="^(password|xoauth2)$")
    oauth2: OAuth2Settings = OAuth2Settings()
    # Certificates the server's is checked against; empty: the system's. Checking is never off.
    ca_file: Path | None = None

    @model_validator(mode="after")
    def _token_source(self) -> Self:
        if self.auth == "xoauth2" and not self.oauth2.provider:
            raise ValueError("auth = xoauth2 needs [oauth2] provider (microsoft, google or command)")
        return self


class ImapSettings(_Login):
    host: str = "127.0.0.1"
    port: int = Field(993, ge=1, le=65535)
    # none, starttls or ssl; empty: as ``ssl`` says (ssl = true is "ssl", false is "none").
    security: str = Field("", pattern="^(|none|starttls|ssl)$")
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

    @property
    def tls(self) -> str:
        """The connection's security, ``security`` or else what the older ``ssl`` key says."""
        return self.security or ("ssl" if self.ssl else "none")


class SmtpSettings(_Login):
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
    # On PostgreSQL, every worker takes fetched messages through the stages, not only the one
    # reading the mailbox (``bot.storage.backlog``), while another stands by; ignored on SQLite.
    share_stage_work: bool = True
    # Seconds after which messages a live worker took and did not finish (it is stuck) are
    # taken by another, one at a time; a killed worker's are taken again at once.
    retake_after_seconds: int = Field(30, ge=1)
