"""Structured logs: one line per event, ``key=value``, with secrets masked.

    ts=2024-03-15T00:30:00.123Z level=INFO logger=bot.mail.jobs event="reminders: reminder_due, reply 7
    drafted" claim=CLM-2024-000012 job=reminders        (one line in the log)

``ts``, ``level``, ``logger`` and ``event`` (the message) always; ``claim``, ``message_id``,
``reply`` and ``job`` when the code logging the event passes them (``extra={"claim": ...}``);
``exc`` with the traceback, on one line, at debug level. Values with spaces or quotes are JSON
strings, so newlines never split an event over two lines, and an event is cut at
``MAX_EVENT`` characters: a message quoting a client's email cannot pour its body into the log.
Every secret of the settings (passwords, the web secret, the password in ``database_url``) is
replaced by ``***`` wherever it appears, once ``hide_secrets`` has been given the settings.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from sqlalchemy import make_url

from bot.config import Settings

FIELDS = ("claim", "message_id", "reply", "job")
MAX_EVENT = 500
_BARE = re.compile(r"[A-Za-z0-9_.:@/+=<>,\-]+")


def _value(value: object) -> str:
    text = str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []

    def format(self, record: logging.LogRecord) -> str:
        event = record.getMessage()
        if len(event) > MAX_EVENT:
            event = event[:MAX_EVENT] + f"... ({len(event) - MAX_EVENT} characters cut)"
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        parts = [
            f"ts={ts.replace('+00:00', 'Z')}",
            f"level={record.levelname}",
            f"logger={record.name}",
            f"event={_value(event)}",
        ]
        parts += [f"{key}={_value(getattr(record, key))}" for key in FIELDS if getattr(record, key, None)]
        if record.exc_info:
            parts.append(f"exc={_value(self.formatException(record.exc_info))}")
        line = " ".join(parts)
        for secret in self.secrets:
            line = line.replace(secret, "***").replace(json.dumps(secret, ensure_ascii=False)[1:-1], "***")
        return line


def configure(level: int) -> None:
    """Log to stderr in the structured format, unless logging was set up already (as
    ``logging.basicConfig`` does: a host such as pytest keeps its own handlers)."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root.addHandler(handler)
    root.setLevel(level)


def secrets_of(settings: Settings) -> list[str]:
    values = [
        settings.imap.password.get_secret_value(),
        settings.smtp.password.get_secret_value(),
        settings.web_secret.get_secret_value(),
        settings.imap.oauth2.client_secret.get_secret_value(),
        settings.smtp.oauth2.client_secret.get_secret_value(),
    ]
    if settings.database_url:
        try:
            values.append(make_url(settings.database_url).password or "")
        except Exception:
            values.append(settings.database_url)
    # Very short values would mask ordinary words; such a secret is no secret anyway.
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


def hide_secrets(settings: Settings) -> None:
    """Mask the settings' secrets in every structured log handler from now on."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, KeyValueFormatter):
            handler.formatter.secrets = secrets_of(settings)
