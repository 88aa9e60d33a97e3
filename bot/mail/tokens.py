"""Access tokens for XOAUTH2 logins (``[imap] auth = "xoauth2"``, ``[smtp] auth``), from the
identity provider the settings name, kept until shortly before they expire.

``microsoft`` is the client-credentials flow of an Entra ID application, through ``msal``;
``google`` a service account with domain-wide delegation, through ``google-auth``; ``command``
a program run without a shell whose first line of output is the token. A failure is a
``TokenError`` that names the provider and the setting to look at, never a secret.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import subprocess
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config.mail import OAuth2Settings

log = logging.getLogger(__name__)
# A token command, or an identity provider, that takes longer than this is given up on: the
# poll must not hang on it (msal sets no timeout on a session it is given).
COMMAND_TIMEOUT = 30
HTTP_TIMEOUT = 30


class TokenError(Exception):
    """No token could be had; the message says from which provider and which setting to check."""


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: datetime
    fetched_at: datetime


class TokenSource:
    """One configured provider's tokens: the cached one while it has ``refresh_before_seconds``
    left, else a new one. ``forget`` drops it (the server refused it: revoked, or expired early)."""

    def __init__(self, settings: OAuth2Settings, *, section: str, login: str) -> None:
        self.settings = settings
        self.section = section
        self.login = login
        self._token: Token | None = None
        self._lock = threading.Lock()

    def token(self, now: datetime | None = None) -> str:
        moment = now or datetime.now(UTC)
        with self._lock:
            if self._token is None or self._due(self._token, moment):
                self._token = self._fetch(moment)
                log.info("new %s token from %s for %s", self.section, self.settings.provider, self.login)
            return self._token.value

    def _due(self, token: Token, now: datetime) -> bool:
        """Renewed ``refresh_before_seconds`` before it expires, but never before half its life
        is used (a five-minute command token would otherwise be run again at every login)."""
        margin = timedelta(seconds=self.settings.refresh_before_seconds)
        margin = min(margin, (token.expires_at - token.fetched_at) / 2)
        return token.expires_at - margin <= now

    def forget(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self, now: datetime) -> Token:
        fetch = {"microsoft": _microsoft, "google": _google, "command": _command}[self.settings.provider]
        try:
            return fetch(self.settings, self.login, now)
        except TokenError as exc:
            raise TokenError(f"[{self.section}.oauth2] provider {self.settings.provider}: {exc}") from None


_SOURCES: dict[tuple[object, ...], TokenSource] = {}
_SOURCES_LOCK = threading.Lock()


def source_for(settings: OAuth2Settings, *, section: str, login: str) -> TokenSource:
    """The process's one source for these settings, so that each poll reuses the token."""
    secret = hashlib.sha256(settings.client_secret.get_secret_value().encode()).hexdigest()
    key = (section, login, settings.model_dump_json(), secret)
    with _SOURCES_LOCK:
        if key not in _SOURCES:
            _SOURCES[key] = TokenSource(settings, section=section, login=login)
        return _SOURCES[key]


def sasl_xoauth2(user: str, token: str) -> str:
    """The XOAUTH2 initial response (Google's and Microsoft's format), before base64."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def sasl_xoauth2_base64(user: str, token: str) -> str:
    return base64.b64encode(sasl_xoauth2(user, token).encode()).decode("ascii")


def _microsoft(settings: OAuth2Settings, login: str, now: datetime) -> Token:
    import msal

    credential: object = settings.client_secret.get_secret_value()
    if settings.certificate_file is not None:
        try:
            key = settings.certificate_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise TokenError(
                f"cannot read certificate_file {settings.certificate_file}: {exc.strerror}"
            ) from None
        credential = {"private_key": key, "thumbprint": settings.certificate_thumbprint}
    try:
        app = msal.ConfidentialClientApplication(
            settings.client_id,
            client_credential=credential,
            authority=f"{settings.authority.rstrip('/')}/{settings.tenant}",
            http_client=_session(settings),
            instance_discovery=settings.authority.startswith("https://login.microsoftonline.com"),
            token_cache=msal.TokenCache(),
        )
        answer = app.acquire_token_for_client(scopes=[settings.token_scope])
    except ValueError as exc:
        raise TokenError(f"check tenant and authority: {exc}") from None
    except OSError as exc:
        raise TokenError(f"cannot reach {settings.authority}: {exc.__class__.__name__}") from None
    if "access_token" not in answer:
        error = answer.get("error", "no token")
        hint = {"invalid_client": "check client_id and client_secret (or the certificate)"}.get(
            str(error), "check tenant, client_id and the application's mail permission"
        )
        raise TokenError(f"{error}: {hint}")
    expires = now + timedelta(seconds=int(answer.get("expires_in", 3600)))
    return Token(str(answer["access_token"]), expires, now)


def _google(settings: OAuth2Settings, login: str, now: datetime) -> Token:
    import google.auth.exceptions
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    try:
        credentials = service_account.Credentials.from_service_account_file(
            str(settings.service_account_file),
            scopes=[settings.token_scope],
            subject=settings.subject or login,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise TokenError(f"cannot use service_account_file {settings.service_account_file}: {exc}") from None
    try:
        credentials.refresh(Request(_session(settings)))
    except google.auth.exceptions.RefreshError as exc:
        reason = exc.args[0] if exc.args else "refused"
        raise TokenError(
            f"{reason}: check the service account's domain-wide delegation and subject"
        ) from None
    except google.auth.exceptions.TransportError as exc:
        raise TokenError(f"cannot reach the token endpoint: {exc.__class__.__name__}") from None
    expiry = credentials.expiry
    expires = expiry.replace(tzinfo=UTC) if expiry is not None else now + timedelta(hours=1)
    return Token(str(credentials.token), expires, now)


def _session(settings: OAuth2Settings) -> Any:
    """An HTTP session to the identity provider that checks its certificate against ``ca_file``
    when set. requests lets ``REQUESTS_CA_BUNDLE`` override a session's own ``verify``; here the
    setting wins, and the environment's proxies still apply."""
    import requests

    class Session(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", HTTP_TIMEOUT)
            return super().request(*args, **kwargs)

        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> Any:
            merged = super().merge_environment_settings(*args, **kwargs)
            if settings.ca_file is not None:
                merged["verify"] = str(settings.ca_file)
            return merged

    session = Session()
    if settings.ca_file is not None:
        session.verify = str(settings.ca_file)
    return session


def _command(settings: OAuth2Settings, login: str, now: datetime) -> Token:
    # The command gets the environment without the bot's own secrets (CLAIMSBOT_*).
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSBOT_")}
    try:
        done = subprocess.run(
            settings.command, capture_output=True, timeout=COMMAND_TIMEOUT, check=False, env=environment
        )
    except FileNotFoundError:
        raise TokenError(f"command {settings.command[0]!r} not found") from None
    except subprocess.TimeoutExpired:
        raise TokenError(f"command took over {COMMAND_TIMEOUT} s") from None
    except OSError as exc:
        raise TokenError(f"command {settings.command[0]!r} cannot run: {exc.strerror}") from None
    try:
        lines = done.stdout.decode("ascii").strip().splitlines()
    except UnicodeDecodeError:
        raise TokenError(f"command {settings.command[0]!r} printed something that is not a token") from None
    if done.returncode != 0 or not lines or not lines[0].strip():
        raise TokenError(f"command {settings.command[0]!r} exited {done.returncode} without a token")
    expires = now + timedelta(seconds=settings.command_token_seconds)
    return Token(lines[0].strip(), expires, now)
