"""The test servers themselves work: TLS, Dovecot's oauth2 passdb, the identity provider, SMTP XOAUTH2.

Each test starts its own servers on free ports and stops them; the product's tests rely on
what is proved here (a revoked token really is refused, a wrong certificate really fails).
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
import time
from pathlib import Path

import google.auth.exceptions
import google.auth.transport.requests
import imapclient
import msal
import pytest
import requests
from google.oauth2 import service_account
from imapclient.exceptions import LoginError

from tests.conftest import _require
from tests.servers import dovecot, tls
from tests.servers.dovecot import DovecotServer
from tests.servers.identity import GMAIL_SCOPE, OUTLOOK_SCOPE, IdentityProvider
from tests.servers.smtp_oauth import OAuthSmtpServer, parse_xoauth2, xoauth2_string


@pytest.fixture
def trust_only_given_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's ``verify``: drop them."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def idp(trust_only_given_ca: None, identity_provider: IdentityProvider) -> IdentityProvider:
    """The provider, for clients (msal, google-auth as such) that requests' environment would misdirect."""
    return identity_provider


def _require_dovecot() -> None:
    _require(dovecot.available(), "Dovecot (dovecot-imapd)")


def _msal_app(provider: IdentityProvider, secret: str | None = None) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        provider.client_id,
        client_credential=secret or provider.client_secret,
        authority=provider.authority,
        verify=str(provider.ca_file),
        instance_discovery=False,
        validate_authority=False,
    )


def _google_credentials(
    provider: IdentityProvider, tmp_path: Path, subject: str
) -> service_account.Credentials:
    key_file = provider.write_service_account(tmp_path / "service-account.json")
    return service_account.Credentials.from_service_account_file(
        str(key_file), scopes=[GMAIL_SCOPE], subject=subject
    )


def _google_request(provider: IdentityProvider) -> google.auth.transport.requests.Request:
    session = requests.Session()
    session.verify = str(provider.ca_file)
    return google.auth.transport.requests.Request(session)


# TLS and Dovecot over TLS ---------------------------------------------------------------------


def test_tls_files_exist_and_name_their_hosts() -> None:
    authority = tls.authority()
    assert authority.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "127.0.0.1" in tls.server_cert().hostnames
    assert tls.server_cert("other").hostnames == ("other.example",)
    assert tls.server_cert("other").key_file.exists()


def test_dovecot_starttls_and_imaps_verify_with_the_ca_file() -> None:
    _require_dovecot()
    with DovecotServer(tls=True) as server:
        assert server.ssl_port is not None
        client = imapclient.IMAPClient(server.host, server.port, ssl=False, timeout=10)
        assert b"STARTTLS" in client.capabilities()
        client.starttls(tls.client_context())
        client.login(server.username, server.password)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
        client.logout()
        client = imapclient.IMAPClient(
            server.host, server.ssl_port, ssl=True, ssl_context=tls.client_context(), timeout=10
        )
        client.login(server.username, server.password)
        client.logout()


def test_dovecot_certificate_for_another_host_is_refused() -> None:
    _require_dovecot()
    with DovecotServer(tls=True, cert="other") as server:
        assert server.ssl_port is not None
        client = imapclient.IMAPClient(server.host, server.port, ssl=False, timeout=10)
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(tls.client_context())
        with pytest.raises(ssl.SSLCertVerificationError):
            imapclient.IMAPClient(
                server.host, server.ssl_port, ssl=True, ssl_context=tls.client_context(), timeout=10
            )


def test_dovecot_refuses_a_plaintext_login_before_tls() -> None:
    """From another address than the server's own (which Dovecot trusts as local) LOGIN is refused."""
    _require_dovecot()
    with (
        DovecotServer(tls=True) as server,
        socket.create_connection((server.host, server.port), 10, source_address=("127.0.0.2", 0)) as raw,
    ):
        stream = raw.makefile("rwb")
        assert b"LOGINDISABLED" in stream.readline()
        stream.write(f"a1 LOGIN {server.username} {server.password}\r\n".encode())
        stream.flush()
        answer = stream.readline()
        assert b"Plaintext authentication not allowed" in answer, answer


# Dovecot's oauth2 passdb ----------------------------------------------------------------------


def test_dovecot_oauth2_login_with_an_entra_token(
    idp: IdentityProvider, oauth_dovecot: DovecotServer
) -> None:
    result = _msal_app(idp).acquire_token_for_client(scopes=[OUTLOOK_SCOPE])
    token = result["access_token"]
    client = imapclient.IMAPClient(oauth_dovecot.host, oauth_dovecot.port, ssl=False, timeout=10)
    assert b"AUTH=XOAUTH2" in client.capabilities()
    client.oauth2_login(oauth_dovecot.username, token)
    assert client.select_folder("INBOX")[b"EXISTS"] == 0
    client.logout()


def test_dovecot_oauth2_refuses_a_revoked_token(idp: IdentityProvider, oauth_dovecot: DovecotServer) -> None:
    token = idp.issue()
    client = imapclient.IMAPClient(oauth_dovecot.host, oauth_dovecot.port, ssl=False, timeout=10)
    client.oauth2_login(oauth_dovecot.username, token)
    client.logout()
    idp.revoke(token)
    client = imapclient.IMAPClient(oauth_dovecot.host, oauth_dovecot.port, ssl=False, timeout=10)
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        client.oauth2_login(oauth_dovecot.username, token)


def test_dovecot_oauth2_refuses_an_expired_token(idp: IdentityProvider, oauth_dovecot: DovecotServer) -> None:
    idp.lifetime_seconds = 2
    token = idp.issue()
    client = imapclient.IMAPClient(oauth_dovecot.host, oauth_dovecot.port, ssl=False, timeout=10)
    client.oauth2_login(oauth_dovecot.username, token)
    client.logout()
    issued = idp.lookup(token)
    assert issued is not None
    time.sleep(max(0.0, issued.expires_at - time.time()) + 0.1)
    client = imapclient.IMAPClient(oauth_dovecot.host, oauth_dovecot.port, ssl=False, timeout=10)
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        client.oauth2_login(oauth_dovecot.username, token)


def test_dovecot_oauth2_refuses_passwords_unknown_tokens_and_other_users(
    idp: IdentityProvider, oauth_dovecot: DovecotServer
) -> None:
    client = imapclient.IMAPClient(oauth_dovecot.host, oauth_dovecot.port, ssl=False, timeout=10)
    with pytest.raises(LoginError):
        client.login(oauth_dovecot.username, oauth_dovecot.password)
    client = imapclient.IMAPClient(oauth_dovecot.host, oauth_dovecot.port, ssl=False, timeout=10)
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        client.oauth2_login(oauth_dovecot.username, "not-a-token-anyone-issued")
    client = imapclient.IMAPClient(oauth_dovecot.host, oauth_dovecot.port, ssl=False, timeout=10)
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        client.oauth2_login("someone-else", idp.issue())


def test_dovecot_oauth2_over_imaps_with_a_google_token(idp: IdentityProvider, tmp_path: Path) -> None:
    _require_dovecot()
    credentials = _google_credentials(idp, tmp_path, "complaint@broker.example")
    credentials.refresh(_google_request(idp))
    with DovecotServer(tls=True, oauth2_introspection_url=idp.introspection_url) as server:
        assert server.ssl_port is not None
        client = imapclient.IMAPClient(
            server.host, server.ssl_port, ssl=True, ssl_context=tls.client_context(), timeout=10
        )
        client.oauth2_login(server.username, credentials.token)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
        client.logout()


# The identity provider ------------------------------------------------------------------------


def test_msal_gets_a_token_for_the_mailbox(idp: IdentityProvider) -> None:
    result = _msal_app(idp).acquire_token_for_client(scopes=[OUTLOOK_SCOPE])
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3600
    assert idp.username_for(result["access_token"]) == "complaint"
    assert idp.issued == 1
    paths = [request.path for request in idp.requests]
    assert paths == [
        f"/{idp.tenant}/v2.0/.well-known/openid-configuration",
        f"/{idp.tenant}/oauth2/v2.0/token",
    ]


def test_msal_wrong_secret_is_an_invalid_client(idp: IdentityProvider) -> None:
    result = _msal_app(idp, secret="wrong-secret").acquire_token_for_client(scopes=[OUTLOOK_SCOPE])
    assert result["error"] == "invalid_client"
    assert "AADSTS7000215" in result["error_description"]
    assert idp.issued == 0


def test_google_auth_gets_a_delegated_token(idp: IdentityProvider, tmp_path: Path) -> None:
    credentials = _google_credentials(idp, tmp_path, "complaint@broker.example")
    credentials.refresh(_google_request(idp))
    issued = idp.lookup(credentials.token)
    assert issued is not None and issued.active
    assert (issued.kind, issued.subject, issued.username, issued.scope) == (
        "google",
        "complaint@broker.example",
        "complaint",
        GMAIL_SCOPE,
    )


def test_google_refuses_a_subject_not_delegated(idp: IdentityProvider, tmp_path: Path) -> None:
    credentials = _google_credentials(idp, tmp_path, "ceo@broker.example")
    with pytest.raises(google.auth.exceptions.RefreshError, match="unauthorized_client"):
        credentials.refresh(_google_request(idp))
    assert idp.issued == 0


def test_introspection_answers_and_plain_http_serves_only_it(idp: IdentityProvider) -> None:
    token = idp.issue()
    answer = requests.post(idp.plain_introspection_url, data={"token": token}, timeout=10).json()
    assert answer["active"] is True and answer["username"] == "complaint"
    idp.revoke_all()
    answer = requests.post(idp.introspection_url, data={"token": token}, verify=str(idp.ca_file), timeout=10)
    assert answer.json() == {"active": False}
    plain_discovery = f"http://{idp.host}:{idp.http_port}/{idp.tenant}/v2.0/.well-known/openid-configuration"
    assert requests.get(plain_discovery, timeout=10).status_code == 404


def test_identity_provider_with_another_hosts_certificate_is_refused(trust_only_given_ca: None) -> None:
    with (
        IdentityProvider(cert="other") as provider,
        pytest.raises(requests.exceptions.SSLError, match="certificate verify failed"),
    ):
        requests.get(provider.openid_configuration_url, verify=str(provider.ca_file), timeout=10)


# SMTP with XOAUTH2 ----------------------------------------------------------------------------


def test_xoauth2_string_parses() -> None:
    login = parse_xoauth2(xoauth2_string("complaint", "abc").encode())
    assert login is not None and (login.user, login.token) == ("complaint", "abc")


def test_smtp_accepts_a_live_token_and_refuses_a_revoked_one(idp: IdentityProvider) -> None:
    token = idp.issue()
    with OAuthSmtpServer(idp) as server, smtplib.SMTP(server.host, server.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.esmtp_features["auth"].split() == ["XOAUTH2"]
        with pytest.raises(smtplib.SMTPSenderRefused):
            smtp.sendmail("complaint@broker.example", ["client@example.com"], b"Subject: no\r\n\r\nx\r\n")
        smtp.starttls(context=tls.client_context())
        smtp.ehlo()
        smtp.auth("XOAUTH2", lambda challenge=None: xoauth2_string("complaint", token))
        smtp.sendmail("complaint@broker.example", ["client@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
        (delivery,) = server.deliveries
        assert delivery.recipients == ("client@example.com",) and delivery.user == "complaint"
        assert b"Subject: hi" in delivery.content

        idp.revoke(token)
        with smtplib.SMTP(server.host, server.port, timeout=10) as second:
            second.ehlo()
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                second.auth("XOAUTH2", lambda challenge=None: xoauth2_string("complaint", token))
            assert refused.value.smtp_code == 535
        assert [attempt.accepted for attempt in server.attempts] == [True, False]


def test_smtp_require_tls_hides_auth_until_starttls(idp: IdentityProvider) -> None:
    with (
        OAuthSmtpServer(idp, require_tls=True) as server,
        smtplib.SMTP(server.host, server.port, timeout=10) as smtp,
    ):
        smtp.ehlo()
        assert "auth" not in smtp.esmtp_features
        smtp.starttls(context=tls.client_context())
        smtp.ehlo()
        token = base64.b64encode(xoauth2_string("complaint", idp.issue()).encode()).decode()
        code, _ = smtp.docmd("AUTH", f"XOAUTH2 {token}")
        assert code == 235
        assert server.attempts[0].accepted
