"""Typed settings, loaded once from a TOML file with environment overrides.

Every key can be given as ``CLAIMSBOT_<SECTION>_<KEY>`` (or ``CLAIMSBOT_<KEY>`` at the top
level), which is how secrets such as ``CLAIMSBOT_IMAP_PASSWORD`` should reach production.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator

from bot.claims.deadlines import PRESETS, Period, Rules

ENV_PREFIX = "CLAIMSBOT_"


def _default_templates() -> Path:
    """``bot/templates`` in an installed wheel; the repository's top-level ``templates/`` in a checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


DEFAULT_TEMPLATES = _default_templates()


class ConfigError(Exception):
    """A configuration problem, phrased as one line that names the key and the file."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


OUTAGE_2019: dict[str, Any] = {"name": "quote-server-2019-06-26", "symbols": []}
OUTAGE_2019 |= {"start": "2019-06-26T18:58:00+08:00", "end": "2019-06-27T05:30:00+08:00"}

DEFAULT_EXTERNAL_ROUTE = {
    "en": "If you are not satisfied with our response, you may refer your complaint to the external "
    "dispute resolution scheme named in our client agreement, free of charge.",
    "zh-Hans": "如您对我们的答复不满意，可免费将投诉提交至客户协议中列明的外部争议解决机构。",
    "zh-Hant": "如您對我們的答覆不滿意，可免費將投訴提交至客戶協議中列明的外部爭議解決機構。",
}


class ImapSettings(_Section):
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


class SmtpSettings(_Section):
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


def parse_timezone(value: str) -> tzinfo:
    """An IANA name (``Europe/Athens``) or a fixed offset (``+03:00``)."""
    unknown = f"unknown time zone {value[:64]!r}; use an IANA name or an offset like +03:00"
    match = re.fullmatch(r"(?:UTC|GMT)?([+-])(1\d|2[0-3]|0?\d):?([0-5]\d)?", value.strip())
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0)))
    try:
        if len(value) > 64:
            raise ValueError(value)
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a directory of the zone database ("Asia"), or a name the file system refuses.
        raise ValueError(unknown) from None


class _ZonedSection(_Section):
    """A section whose times are read in one time zone (its ``timezone`` key)."""

    timezone: str

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        parse_timezone(value)
        return value

    @property
    def tz(self) -> tzinfo:
        return parse_timezone(self.timezone)


class TradeServerSettings(_ZonedSection):
    timezone: str = "+03:00"


class IncidentSettings(_Section):
    name: str
    start: datetime
    end: datetime
    symbols: list[str] = Field(default_factory=list)

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs an explicit UTC offset, e.g. 2019-06-26T18:58:00+08:00")
        return value

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and value <= start:
            raise ValueError("must be after start")
        return value


class ClaimSettings(_Section):
    reference_prefix: str = "CLM"
    answer_within_days: int = Field(14, ge=1)
    consent_days: int = Field(30, ge=1)
    # Replies drafted to one address in 24 hours, and in all, beyond which a person must step in.
    max_replies_per_sender_per_day: int = Field(5, ge=1)
    max_replies_per_sender: int = Field(30, ge=1)
    # Extra sender addresses accepted for a registered email: {"registered@x" = ["other@y"]}.
    email_aliases: dict[str, list[str]] = Field(default_factory=dict)


class ApprovalSettings(_Section):
    # Offers above this amount (in the offer's currency) need a manager's second approval.
    four_eyes_amount: Decimal = Field(Decimal("10000"), ge=0)


class ComplaintRuleSettings(_Section):
    # Where a client can take the complaint if unsatisfied, per reply language.
    external_route: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_EXTERNAL_ROUTE))

    @field_validator("external_route")
    @classmethod
    def _every_language(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [lang for lang in DEFAULT_EXTERNAL_ROUTE if not value.get(lang, "").strip()]
        if missing:
            raise ValueError(f"needs a text for every reply language; missing: {', '.join(missing)}")
        return value


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # Hours a staff login lasts.
    session_hours: int = Field(8, ge=1)


DEFAULT_DELAY_REASON = (
    "the number of claims after the outage means we need more time to check every order against "
    "the trade records"
)


class JobSettings(_Section):
    # Seconds between two runs of the outbox job (send approved replies, copy them to Sent).
    outbox_seconds: int = Field(60, ge=1)
    # Minutes between two runs of the reminder job.
    reminders_minutes: int = Field(60, ge=1)
    # Minutes between two runs of the deadline job.
    deadlines_minutes: int = Field(60, ge=1)
    # Days after an offer was sent with no answer before one reminder is drafted.
    remind_after_days: int = Field(7, ge=1)
    # A run missed by at most this many seconds (the worker was down) still happens, once.
    misfire_grace_seconds: int = Field(3600, ge=1)
    # A delay letter promises an answer this many days after the missed deadline.
    delay_extension_days: int = Field(14, ge=1)
    # Why the answer is late, as the delay letter says it (staff can edit each draft).
    delay_reason: str = Field(DEFAULT_DELAY_REASON, min_length=1)


_ADDRESS = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")


class _LocalSection(_ZonedSection):
    """A section whose days and times are counted in the broker's local zone."""

    timezone: str = "Asia/Hong_Kong"


def _split(value: Any) -> Any:
    """A list given as one string (an environment variable): ``"a@x.com, b@y.com"``."""
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;\s]+", value) if part.strip()]
    return value


class DeadlineSettings(_LocalSection):
    # asic, fca, cysec or broker (bot.claims.deadlines says what each counts).
    preset: str = "broker"
    # The broker's own promise in calendar days, on top of the preset's limits; 0: none.
    promise_days: int = Field(0, ge=0)
    # Days that are not business days besides Saturdays and Sundays.
    holidays: list[date] = Field(default_factory=list)
    # A deadline this many days away or less is shown as due soon.
    warn_days: int = Field(2, ge=0)

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        if value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}; use one of: {', '.join(PRESETS)}")
        return value

    @field_validator("holidays", mode="before")
    @classmethod
    def _holiday_list(cls, value: Any) -> Any:
        return _split(value)

    @property
    def rules(self) -> Rules:
        rules = PRESETS[self.preset]
        return rules.promising(Period(self.promise_days, "calendar_days")) if self.promise_days else rules


class DigestSettings(_LocalSection):
    # Who gets the managers' daily digest; empty: no digest is sent.
    recipients: list[str] = Field(default_factory=list)
    # Local time of day the digest goes out, HH:MM on a 24-hour clock in ``timezone``.
    at: str = "08:00"

    @field_validator("recipients", mode="before")
    @classmethod
    def _recipient_list(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [address for address in value if not _ADDRESS.fullmatch(address)]
        if bad:
            raise ValueError(f"not an email address: {bad[0]!r}")
        return value

    @field_validator("at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
        if not match:
            raise ValueError("use HH:MM on a 24-hour clock, e.g. 08:00")
        return f"{int(match.group(1)):02d}:{match.group(2)}"

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.at.split(":")
        return int(hour), int(minute)


class IntakeSettings(_Section):
    # The receiving server's authserv-id; set, consent needs its DMARC (or aligned DKIM) pass.
    authserv_id: str = ""
    # Runs that may die with one message in hand before it is kept for a person unread.
    max_kills: int = Field(2, ge=1)


class Settings(_Section):
    data_dir: Path = Path("claimsbot-data")
    database_url: str = ""
    templates_dir: Path = DEFAULT_TEMPLATES
    poll_seconds: int = Field(60, ge=1)
    web_secret: SecretStr = SecretStr("")
    imap: ImapSettings = ImapSettings()
    smtp: SmtpSettings = SmtpSettings()
    intake: IntakeSettings = IntakeSettings()
    claims: ClaimSettings = ClaimSettings()
    trade_server: TradeServerSettings = TradeServerSettings()
    approval: ApprovalSettings = ApprovalSettings()
    complaint_rules: ComplaintRuleSettings = ComplaintRuleSettings()
    web: WebSettings = WebSettings()
    deadlines: DeadlineSettings = DeadlineSettings()
    digest: DigestSettings = DigestSettings()
    jobs: JobSettings = JobSettings()
    incidents: list[IncidentSettings] = Field(
        default_factory=lambda: [IncidentSettings.model_validate(OUTAGE_2019)], min_length=1
    )
    source: str = Field("(defaults)", exclude=True)

    @field_validator("templates_dir", mode="before")
    @classmethod
    def _default_templates(cls, value: object) -> object:
        return DEFAULT_TEMPLATES if value in ("", None) else value

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'claimsbot.db'}"

    @property
    def sent_dir(self) -> Path:
        return self.data_dir / "sent"


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (or only the environment when None) into validated settings."""
    environ = os.environ if environ is None else environ
    source = str(path) if path else "(environment)"
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{source}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: cannot read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    used = _apply_environment(raw, environ)
    try:
        return settings_from_mapping(raw, source=source)
    except ConfigError as exc:
        names = [
            name
            for name in used
            if name.lower().removeprefix("claimsbot_").replace("_", " ")
            in str(exc).lower().replace("[", "").replace("]", "").replace("_", " ")
        ]
        if names:
            raise ConfigError(f"{exc} (set by environment variable {names[0]})") from None
        raise


def settings_from_mapping(raw: Mapping[str, Any], *, source: str) -> Settings:
    try:
        return Settings.model_validate({**raw, "source": source})
    except ValidationError as exc:
        error = exc.errors()[0]
        key = _key_name(error["loc"])
        if error["type"] == "extra_forbidden":
            raise ConfigError(f"{source}: unknown key {key}") from None
        if error["type"] == "missing":
            raise ConfigError(f"{source}: missing key {key}") from None
        raise ConfigError(f"{source}: invalid value for {key}: {error['msg']}") from None


def _key_name(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) == 1:
        return parts[0]
    if len(parts) >= 3 and parts[1].isdigit():
        return f"[[{parts[0]}]] #{int(parts[1]) + 1} {'.'.join(parts[2:])}"
    return f"[{parts[0]}] {'.'.join(parts[1:])}"


def _apply_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Overlay non-empty ``CLAIMSBOT_*`` variables on the file's values; return the names used."""
    used: list[str] = []
    for name, field in Settings.model_fields.items():
        if name in {"source", "incidents"}:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            section = raw.setdefault(name, {})
            if not isinstance(section, dict):
                continue
            for key, inner in annotation.model_fields.items():
                variable = f"{ENV_PREFIX}{name}_{key}".upper()
                if environ.get(variable) and getattr(inner.annotation, "__origin__", None) is not dict:
                    section[key] = environ[variable]
                    used.append(variable)
        else:
            variable = f"{ENV_PREFIX}{name}".upper()
            if environ.get(variable):
                raw[name] = environ[variable]
                used.append(variable)
    return used
