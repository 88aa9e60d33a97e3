"""An SMTP server (aiosmtpd) that takes mail only after AUTH XOAUTH2 with a live access token.

Microsoft 365 and Gmail accept submission with an OAuth2 bearer token and nothing else once
basic authentication is off; this stands in for them. Tokens are checked against a local
IdentityProvider (in-process, the same answer its introspection endpoint gives), so a revoked or
expired token is refused with 535 at the next AUTH, as the real servers do.
"""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from bot.demo.imap_server import free_port
from tests.servers import tls
from tests.servers.identity import IdentityProvider

#: Exchange Online's answer to a bad token (Gmail says 535 5.7.8; both are permanent 535s).
REFUSED = "535 5.7.3 Authentication unsuccessful"


@dataclass(frozen=True)
class XOAuth2Login:
    """Who authenticated on a session: the XOAUTH2 ``user=`` and the bearer token."""

    user: str
    token: str


@dataclass(frozen=True)
class AuthAttempt:
    user: str
    token: str
    accepted: bool


@dataclass(frozen=True)
class OAuthDelivery:
    """A message accepted, with its envelope and the user whose token sent it."""

    mail_from: str
    recipients: tuple[str, ...]
    content: bytes
    user: str


def parse_xoauth2(blob: bytes) -> XOAuth2Login | None:
    """``user=U\\x01auth=Bearer T\\x01\\x01`` (already base64-decoded), or None if malformed."""
    fields: dict[str, str] = {}
    for part in blob.decode("utf-8", "replace").split("\x01"):
        key, sep, value = part.partition("=")
        if sep:
            fields[key.strip().lower()] = value
    auth = fields.get("auth", "")
    scheme, _, token = auth.partition(" ")
    if "user" not in fields or scheme.lower() != "bearer" or not token.strip():
        return None
    return XOAuth2Login(fields["user"], token.strip())


class _Handler:
    def __init__(self, provider: IdentityProvider) -> None:
        self.provider = provider
        self.lock = threading.Lock()
        self.deliveries: list[OAuthDelivery] = []
        self.attempts: list[AuthAttempt] = []

    def accepts(self, login: XOAuth2Login) -> bool:
        """A live token, presented for the mailbox it was issued for (or the delegated address)."""
        issued = self.provider.lookup(login.token)
        if issued is None or not issued.active:
            return False
        return login.user.lower() in {issued.username.lower(), (issued.subject or "").lower()}

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            response = await server.challenge_auth("")
            if not isinstance(response, bytes):
                return AuthResult(success=False, handled=True)
            blob = response
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        login = parse_xoauth2(blob)
        if login is None:
            await server.push("501 5.5.2 Malformed XOAUTH2 response")
            return AuthResult(success=False, handled=True)
        accepted = self.accepts(login)
        with self.lock:
            self.attempts.append(AuthAttempt(login.user, login.token, accepted))
        if not accepted:
            return AuthResult(success=False, handled=False, message=REFUSED)
        return AuthResult(success=True, auth_data=login)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data
        user = login.user if isinstance(login, XOAuth2Login) else ""
        delivery = OAuthDelivery(
            str(envelope.mail_from),
            tuple(envelope.rcpt_tos),
            bytes(envelope.original_content or b""),
            user,
        )
        with self.lock:
            self.deliveries.append(delivery)
        return "250 2.0.0 OK"


class _Controller(Controller):
    """Builds each session's SMTP with AUTH allowed before TLS when asked, without aiosmtpd's warning.

    aiosmtpd warns (UserWarning, on every connection) when AUTH is required but TLS is not; the
    tests choose that on purpose, so the flag is set after construction instead.
    """

    def __init__(self, handler: _Handler, *, auth_require_tls: bool, **kwargs: Any) -> None:
        super().__init__(handler, auth_require_tls=True, **kwargs)
        self.auth_require_tls = auth_require_tls

    def factory(self) -> SMTP:
        server = SMTP(self.handler, **self.SMTP_kwargs)
        server._auth_require_tls = self.auth_require_tls
        return server


def _refuse(*_: Any) -> AuthResult:
    """PLAIN and LOGIN are not offered; should anything reach them, it fails."""
    return AuthResult(success=False, handled=False)


class OAuthSmtpServer:
    """SMTP on 127.0.0.1:``port`` requiring AUTH XOAUTH2 (the only mechanism), started with ``with``.

    ``starttls=True`` offers STARTTLS with the tls.py certificate (``cert="other"`` for the
    other host's); ``require_tls=True`` then hides AUTH until TLS is up, as Exchange Online does.
    ``deliveries`` and ``attempts`` list what arrived, in order.
    """

    def __init__(
        self,
        provider: IdentityProvider,
        *,
        starttls: bool = True,
        require_tls: bool = False,
        cert: tls.CertName = "localhost",
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.provider = provider
        self.ca_file: Path = tls.ca_file()
        self._handler = _Handler(provider)
        self._controller = _Controller(
            self._handler,
            hostname=self.host,
            port=self.port,
            tls_context=tls.server_context(cert) if starttls else None,
            auth_required=True,
            auth_require_tls=require_tls and starttls,
            auth_exclude_mechanism=["LOGIN", "PLAIN"],
            authenticator=_refuse,
        )

    @property
    def deliveries(self) -> list[OAuthDelivery]:
        with self._handler.lock:
            return list(self._handler.deliveries)

    @property
    def attempts(self) -> list[AuthAttempt]:
        with self._handler.lock:
            return list(self._handler.attempts)

    def __enter__(self) -> OAuthSmtpServer:
        self._controller.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._controller.stop()


def xoauth2_string(user: str, token: str) -> str:
    """The (unencoded) XOAUTH2 initial response; smtplib base64-encodes what the auth object returns."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"
