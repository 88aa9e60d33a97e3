"""The IMAP edge: fetch new messages without marking them read, archive them once stored.

Reading uses ``BODY.PEEK[]`` so nothing is marked \\Seen by being read. A message is moved to
the processed folder only after the database has committed what it led to, so a crash in
between leaves it in the inbox, where the next cycle finds it already stored and only
archives it.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from bot.config import ImapSettings
from bot.mail import tokens
from bot.mail.tokens import TokenError

log = logging.getLogger(__name__)
PROCESSED_FLAG = b"$ClaimsbotProcessed"


class MailboxError(Exception):
    """The mailbox cannot be reached or used; the message says which and why."""


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes | None
    size: int = 0


class Mailbox:
    """One connection to the complaint mailbox, used as a context manager."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self.uidvalidity = 0
        self._client: imapclient.IMAPClient | None = None

    def __enter__(self) -> Mailbox:
        s = self.settings
        where = f"IMAP {s.host}:{s.port}"
        try:
            client = connect(s)
            log_in(client, s)
            selected = client.select_folder(s.folder)
        except ssl.SSLCertVerificationError as exc:
            raise MailboxError(f"{where}: {certificate_problem(exc, '[imap]')}") from exc
        except TokenError as exc:
            raise MailboxError(f"{where}: no token: {exc}") from exc
        except LoginRefused as exc:
            raise MailboxError(f"{where}: {exc}") from exc
        except (TimeoutError, OSError, IMAPClientError) as exc:
            raise MailboxError(f"{where} folder {s.folder!r}: {_describe(exc)}") from exc
        self._client = client
        self.uidvalidity = int(selected[b"UIDVALIDITY"])
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError, IMAPClientError):
                self._client.logout()
            self._client = None

    @property
    def client(self) -> imapclient.IMAPClient:
        if self._client is None:
            raise MailboxError("mailbox is not open")
        return self._client

    @property
    def folder(self) -> str:
        return self.settings.folder

    def uids_through(self, uid: int) -> list[int]:
        """The UIDs still in the folder from 1 to ``uid``."""
        return sorted(u for u in self.client.search(["UID", f"1:{uid}"]) if u <= uid)

    def new_messages(self, after_uid: int, *, max_bytes: int = 0) -> Iterator[list[Fetched]]:
        """Batches of messages with a UID above ``after_uid``, oldest first.

        Sizes are asked first, so a message over ``max_bytes`` is reported (``raw`` None)
        without being downloaded.
        """
        # "N:*" always includes the highest UID, even below N, so filter here.
        uids = sorted(u for u in self.client.search(["UID", f"{after_uid + 1}:*"]) if u > after_uid)
        size = self.settings.batch_size
        for start in range(0, len(uids), size):
            batch = uids[start : start + size]
            sizes = {
                uid: int(data.get(b"RFC822.SIZE", 0))
                for uid, data in self.client.fetch(batch, ["RFC822.SIZE"]).items()
            }
            wanted = [uid for uid in batch if uid in sizes and not (max_bytes and sizes[uid] > max_bytes)]
            fetched = self.client.fetch(wanted, ["BODY.PEEK[]"]) if wanted else {}
            yield [
                Fetched(uid, fetched[uid][b"BODY[]"] if uid in wanted else None, sizes[uid])
                for uid in batch
                if uid in sizes and (uid not in wanted or uid in fetched)
            ]

    def archive(self, uids: Sequence[int], target: str) -> None:
        """Move to ``target`` (MOVE, else COPY + delete of exactly these UIDs, never a bare EXPUNGE)."""
        if not uids:
            return
        client = self.client
        if not client.folder_exists(target):
            client.create_folder(target)
        capabilities = client.capabilities()
        if b"MOVE" in capabilities:
            client.move(list(uids), target)
            return
        client.copy(list(uids), target)
        client.add_flags(list(uids), [imapclient.DELETED, PROCESSED_FLAG])
        if b"UIDPLUS" in capabilities:
            client.uid_expunge(list(uids))

    def keep_sent(self, messages: Sequence[bytes], folder: str) -> None:
        """Append copies of sent replies to ``folder`` (the Sent folder staff's mail client shows)."""
        if not messages:
            return
        client = self.client
        if not client.folder_exists(folder):
            client.create_folder(folder)
        for message in messages:
            client.append(folder, message, flags=[imapclient.SEEN])


class LoginRefused(Exception):
    """The server said no to the login; the message says which setting to check."""


def connect(s: ImapSettings) -> imapclient.IMAPClient:
    """A connection as ``[imap] security`` says: TLS from the start, STARTTLS, or none. The
    certificate is checked against the system's authorities, or ``ca_file``'s."""
    context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
    if s.tls == "ssl":
        return imapclient.IMAPClient(s.host, port=s.port, ssl=True, ssl_context=context, timeout=s.timeout)
    client = imapclient.IMAPClient(s.host, port=s.port, ssl=False, timeout=s.timeout)
    if s.tls == "starttls":
        try:
            client.starttls(context)
        except BaseException:
            with contextlib.suppress(OSError, IMAPClientError):
                client.shutdown()
            raise
    return client


def log_in(client: imapclient.IMAPClient, s: ImapSettings) -> None:
    """A password login, or XOAUTH2 with a token from ``[imap.oauth2]``: a cached token the
    server refuses (revoked, expired early) is dropped and a new one tried, once."""
    if s.auth == "xoauth2":
        source = tokens.source_for(s.oauth2, section="imap", login=s.username)
        for attempt in (1, 2):
            try:
                client.oauth2_login(s.username, source.token())
                return
            except LoginError as exc:
                if isinstance(exc.__context__, imaplib.IMAP4.abort):
                    # The connection dropped: nothing was said about the token.
                    raise OSError(f"connection lost during the XOAUTH2 login: {_describe(exc)}") from exc
                source.forget()
                if attempt == 2:
                    raise LoginRefused(
                        f"XOAUTH2 login of {s.username!r} refused with a new token from "
                        f"[imap.oauth2] provider {s.oauth2.provider} ({_describe(exc)}): check the "
                        "application's access to this mailbox, or whether its grant was revoked"
                    ) from exc
    if not s.password.get_secret_value():
        raise LoginRefused(
            '[imap] password is empty: set CLAIMSBOT_IMAP_PASSWORD (or [imap] auth = "xoauth2")'
        )
    try:
        client.login(s.username, s.password.get_secret_value())
    except LoginError as exc:
        raise LoginRefused(
            f"login of {s.username!r} refused ({_describe(exc)}): check [imap] username and password "
            "(CLAIMSBOT_IMAP_PASSWORD)"
        ) from exc


def certificate_problem(exc: ssl.SSLCertVerificationError, section: str) -> str:
    """A refused certificate in words: for another host, or from an authority not trusted."""
    reason = exc.verify_message or str(exc)
    if "mismatch" in reason.lower() or "hostname" in reason.lower():
        return f"the server's certificate is for another host name ({reason}): check {section} host"
    return f"the server's certificate is not trusted ({reason}): check {section} ca_file"


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text.replace("\r", " ").replace("\n", " ")[:200]
