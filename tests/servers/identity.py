"""A local identity provider: Microsoft Entra ID and Google's token endpoint, plus token introspection.

The bot gets OAuth2 access tokens from Entra ID (client credentials, through msal) or from Google
(a service account's signed JWT, through google-auth) and logs in to IMAP/SMTP with them. The
tests need both ends real: this server issues opaque tokens, and answers RFC 7662 introspection
for them, which Dovecot's oauth2 passdb (and tests.servers.smtp_oauth) ask at every login. The
tests control time and trust: token lifetime, revocation, and an outage of the token endpoints.

HTTPS on ``port`` (the tls.py certificate; clients verify with ``ca_file``) serves everything. A
second, plain-HTTP listener on ``http_port`` serves only the introspection endpoint
(``plain_introspection_url``), for servers whose HTTP client is awkward to give a CA.
"""

from __future__ import annotations

import json
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.servers import tls

TokenKind = Literal["microsoft", "google", "manual"]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: google-auth always signs its assertion for this audience, whatever the file's token_uri says.
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"
OUTLOOK_SCOPE = "https://outlook.office365.com/.default"
GMAIL_SCOPE = "https://mail.google.com/"


@dataclass
class IssuedToken:
    """One access token as the provider remembers it; ``active`` is what introspection answers."""

    value: str
    username: str
    kind: TokenKind
    client: str
    scope: str
    subject: str | None
    issued_at: float
    expires_at: float
    revoked: bool = False

    @property
    def active(self) -> bool:
        return not self.revoked and time.time() < self.expires_at


@dataclass(frozen=True)
class RecordedRequest:
    """A request the provider received (``form`` holds a POST's fields, secrets included)."""

    method: str
    path: str
    form: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    """A threading HTTP server doing the TLS handshake in the request's thread, not in accept()."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        with self.context.wrap_socket(request, server_side=True) as wrapped:
            super().finish_request(wrapped, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client refusing our certificate, or hanging up, is what some tests are about.
        if isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class IdentityProvider:
    """Entra ID and Google token endpoints with introspection, on 127.0.0.1, started with ``with``.

    Microsoft: authority ``authority`` (``https://127.0.0.1:PORT/{tenant}``), client-credentials
    grant for ``client_id``/``client_secret`` and any of ``microsoft_scopes``; its tokens are for
    mailbox ``username``. Google: ``write_service_account()`` gives the key file; the JWT must
    be signed by its key, for a ``sub`` in ``google_users`` (delegated address -> mailbox user)
    and scopes among ``google_scopes``. Tokens live ``lifetime_seconds`` (read at issue time).
    """

    def __init__(
        self,
        *,
        tenant: str = "claimsbot-tenant",
        client_id: str = "claimsbot-client",
        client_secret: str = "test-client-secret",
        username: str = "complaint",
        microsoft_scopes: Iterable[str] = (OUTLOOK_SCOPE,),
        google_users: Mapping[str, str] | None = None,
        google_scopes: Iterable[str] = (GMAIL_SCOPE,),
        lifetime_seconds: float = 3600,
        cert: tls.CertName = "localhost",
    ) -> None:
        self.host = "127.0.0.1"
        self.tenant = tenant
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.microsoft_scopes = set(microsoft_scopes)
        self.google_users = dict(google_users or {f"{username}@broker.example": username})
        self.google_scopes = set(google_scopes)
        #: Lifetime of tokens issued from now on (seconds); change it at any time.
        self.lifetime_seconds = lifetime_seconds
        #: While True the token endpoints answer 503, as during an identity-provider outage.
        self.unavailable = False
        self.cert = cert
        self.ca_file: Path = tls.ca_file()
        self.requests: list[RecordedRequest] = []
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key_id = secrets.token_hex(20)
        self.client_email = "claimsbot-mail@claimsbot-test.iam.gserviceaccount.com"
        handler = _handler_for(self)
        self._https = _Server(handler, tls.server_context(cert))
        self._http = _Server(handler, None)
        self.port: int = self._https.server_address[1]
        self.http_port: int = self._http.server_address[1]
        self._threads: list[threading.Thread] = []

    # URLs -------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def authority(self) -> str:
        """What msal takes as ``authority=`` (with ``validate_authority=False``)."""
        return f"{self.base_url}/{self.tenant}"

    @property
    def openid_configuration_url(self) -> str:
        return f"{self.authority}/v2.0/.well-known/openid-configuration"

    @property
    def microsoft_token_url(self) -> str:
        return f"{self.authority}/oauth2/v2.0/token"

    @property
    def google_token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def introspection_url(self) -> str:
        return f"{self.base_url}/introspect"

    @property
    def plain_introspection_url(self) -> str:
        return f"http://{self.host}:{self.http_port}/introspect"

    # Lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> IdentityProvider:
        for server in (self._https, self._http):
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        for server in (self._https, self._http):
            if self._threads:
                server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()

    # Tokens -----------------------------------------------------------------------------------

    def issue(
        self,
        username: str | None = None,
        *,
        kind: TokenKind = "manual",
        client: str = "test",
        scope: str = "",
        subject: str | None = None,
        lifetime_seconds: float | None = None,
    ) -> str:
        """Mint a token directly (as if a grant succeeded): for tests that need no OAuth client."""
        now = time.time()
        lifetime = self.lifetime_seconds if lifetime_seconds is None else lifetime_seconds
        value = secrets.token_urlsafe(32)
        token = IssuedToken(
            value, username or self.username, kind, client, scope, subject, now, now + lifetime
        )
        with self._lock:
            self._tokens[value] = token
        return value

    @property
    def tokens(self) -> list[IssuedToken]:
        """Every token issued, oldest first."""
        with self._lock:
            return list(self._tokens.values())

    @property
    def issued(self) -> int:
        with self._lock:
            return len(self._tokens)

    def revoke(self, token: str) -> None:
        with self._lock:
            if token in self._tokens:
                self._tokens[token].revoked = True

    def revoke_all(self) -> None:
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    def lookup(self, token: str) -> IssuedToken | None:
        with self._lock:
            return self._tokens.get(token)

    def username_for(self, token: str) -> str | None:
        """The mailbox a live token opens, or None for an unknown, expired or revoked one."""
        issued = self.lookup(token)
        return issued.username if issued is not None and issued.active else None

    def introspect(self, token: str) -> dict[str, Any]:
        """The RFC 7662 answer: only ``{"active": false}`` for a token that is not live."""
        issued = self.lookup(token)
        if issued is None or not issued.active:
            return {"active": False}
        return {
            "active": True,
            "username": issued.username,
            "scope": issued.scope,
            "client_id": issued.client,
            "token_type": "Bearer",
            "exp": int(issued.expires_at),
            "iat": int(issued.issued_at),
            **({"sub": issued.subject} if issued.subject else {}),
        }

    # Google service account -------------------------------------------------------------------

    def service_account_info(self) -> dict[str, str]:
        """A service-account key file's content, pointing ``token_uri`` at this provider."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": "claimsbot-test",
            "private_key_id": self.private_key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": f"{self.base_url}/o/oauth2/auth",
            "token_uri": self.google_token_url,
            "auth_provider_x509_cert_url": f"{self.base_url}/oauth2/v1/certs",
            "client_x509_cert_url": f"{self.base_url}/robot/v1/metadata/x509/{self.client_email}",
            "universe_domain": "googleapis.com",
        }

    def write_service_account(self, path: Path) -> Path:
        path.write_text(json.dumps(self.service_account_info(), indent=2))
        return path

    # Endpoints (called from the handler threads) ----------------------------------------------

    def _openid_configuration(self) -> dict[str, Any]:
        authority = self.authority
        return {
            "issuer": f"{authority}/v2.0",
            "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
            "token_endpoint": self.microsoft_token_url,
            "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
            "jwks_uri": f"{authority}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
        }

    def _microsoft_token(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if self.unavailable:
            return 503, {"error": "temporarily_unavailable", "error_description": "AADSTS90033: outage."}
        if tenant != self.tenant:
            return 400, _aad("invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return 400, _aad("unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        if form.get("client_id") != self.client_id:
            return 400, _aad(
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory.",
            )
        if not secrets.compare_digest(form.get("client_secret", ""), self.client_secret):
            return 401, _aad("invalid_client", 7000215, "Invalid client secret provided.")
        scopes = form.get("scope", "").split()
        if not scopes or not set(scopes) <= self.microsoft_scopes:
            return 400, _aad(
                "invalid_scope",
                1002012,
                f"The provided value for scope {form.get('scope', '')} is not valid. Client credential "
                "flows must have a scope value with /.default suffixed to the resource identifier.",
            )
        lifetime = self.lifetime_seconds
        token = self.issue(
            kind="microsoft", client=self.client_id, scope=" ".join(scopes), lifetime_seconds=lifetime
        )
        return 200, {
            "token_type": "Bearer",
            "expires_in": round(lifetime),
            "ext_expires_in": round(lifetime),
            "access_token": token,
        }

    def _google_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if self.unavailable:
            return 503, {"error": "temporarily_unavailable", "error_description": "Service unavailable."}
        if form.get("grant_type") != JWT_BEARER:
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
        assertion = form.get("assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                self._key.public_key(),
                algorithms=["RS256"],
                audience=[GOOGLE_AUDIENCE, self.google_token_url],
                issuer=self.client_email,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid JWT: Token must be a short-lived token.",
            }
        except jwt.PyJWTError as error:
            return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT Signature. ({error})"}
        if header.get("kid") != self.private_key_id:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        scopes = str(claims.get("scope", "")).split()
        subject = claims.get("sub")
        if subject is not None and (
            subject not in self.google_users or not set(scopes) <= self.google_scopes
        ):
            return 401, {
                "error": "unauthorized_client",
                "error_description": "Client is unauthorized to retrieve access tokens using this method, "
                "or client not authorized for any of the scopes requested.",
            }
        if not scopes:
            return 400, {"error": "invalid_scope", "error_description": "Empty or missing scope not allowed."}
        # Without a subject the token is the service account's own, for no mailbox.
        username = self.google_users[subject] if subject is not None else self.client_email
        lifetime = self.lifetime_seconds
        token = self.issue(
            username,
            kind="google",
            client=self.client_email,
            scope=" ".join(scopes),
            subject=subject,
            lifetime_seconds=lifetime,
        )
        return 200, {"access_token": token, "expires_in": round(lifetime), "token_type": "Bearer"}


def _aad(error: str, code: int, description: str) -> dict[str, Any]:
    """An Entra ID error body, with its AADSTS code as Microsoft writes it."""
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": secrets.token_hex(16),
        "correlation_id": secrets.token_hex(16),
    }


def _handler_for(provider: IdentityProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Routes a request to the provider; plain HTTP reaches only the introspection endpoint."""

        server_version = "claimsbot-test-idp"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def _route(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            form = {key: values[-1] for key, values in urllib.parse.parse_qs(url.query).items()}
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                form.update(
                    {k: v[-1] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
                )
            with provider._lock:
                provider.requests.append(RecordedRequest(method, self.path, form))
            parts = [p for p in url.path.split("/") if p]
            secure = isinstance(self.connection, ssl.SSLSocket)
            if parts == ["introspect"]:
                self._introspect(form)
            elif not secure:
                self._send(404, {"error": "not_found"})
            elif method == "GET" and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                if parts[0] == provider.tenant:
                    self._send(200, provider._openid_configuration())
                else:
                    self._send(400, _aad("invalid_tenant", 90002, f"Tenant '{parts[0]}' not found."))
            elif method == "GET" and parts[1:] == ["discovery", "instance"]:
                self._send(
                    200,
                    {
                        "tenant_discovery_endpoint": provider.openid_configuration_url,
                        "api-version": "1.1",
                        "metadata": [
                            {
                                "preferred_network": f"{provider.host}:{provider.port}",
                                "preferred_cache": f"{provider.host}:{provider.port}",
                                "aliases": [f"{provider.host}:{provider.port}"],
                            }
                        ],
                    },
                )
            elif method == "GET" and parts[1:] == ["discovery", "v2.0", "keys"]:
                self._send(200, {"keys": []})
            elif method == "POST" and len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
                self._send(*provider._microsoft_token(parts[0], form))
            elif method == "POST" and parts == ["token"]:
                self._send(*provider._google_token(form))
            else:
                self._send(404, {"error": "not_found", "error_description": f"No such endpoint: {url.path}"})

        def _introspect(self, form: dict[str, str]) -> None:
            token = form.get("token") or form.get("access_token") or ""
            authorization = self.headers.get("Authorization", "")
            if not token and authorization.lower().startswith("bearer "):
                token = authorization[7:].strip()
            self._send(200, provider.introspect(token))

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

    return Handler


__all__ = ["GMAIL_SCOPE", "OUTLOOK_SCOPE", "IdentityProvider", "IssuedToken", "RecordedRequest"]
