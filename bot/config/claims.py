"""The claim's settings: the trade server's clock, the incidents, references, approval
limits, the complaint rules' texts, the page, the jobs, deadlines and the digest."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from bot.claims.deadlines import PRESETS, Period, Rules
from bot.config.base import Section, ZonedSection, split_list

OUTAGE_2019: dict[str, Any] = {"name": "quote-server-2019-06-26", "symbols": []}
OUTAGE_2019 |= {"start": "2019-06-26T18:58:00+08:00", "end": "2019-06-27T05:30:00+08:00"}

DEFAULT_EXTERNAL_ROUTE = {
    "en": "If you are not satisfied with our response, you may refer your complaint to the external "
    "dispute resolution scheme named in our client agreement, free of charge.",
    "zh-Hans": "如您对我们的答复不满意，可免费将投诉提交至客户协议中列明的外部争议解决机构。",
    "zh-Hant": "如您對我們的答覆不滿意，可免費將投訴提交至客戶協議中列明的外部爭議解決機構。",
}


class TradeServerSettings(ZonedSection):
    timezone: str = "+03:00"


class IncidentSettings(Section):
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


class ClaimSettings(Section):
    reference_prefix: str = "CLM"
    answer_within_days: int = Field(14, ge=1)
    consent_days: int = Field(30, ge=1)
    # Replies drafted to one address in 24 hours, and in all, beyond which a person must step in.
    max_replies_per_sender_per_day: int = Field(5, ge=1)
    max_replies_per_sender: int = Field(30, ge=1)
    # Extra sender addresses accepted for a registered email: {"registered@x" = ["other@y"]}.
    email_aliases: dict[str, list[str]] = Field(default_factory=dict)


class ApprovalSettings(Section):
    # Offers above this amount (in the offer's currency) need a manager's second approval.
    four_eyes_amount: Decimal = Field(Decimal("10000"), ge=0)


class ComplaintRuleSettings(Section):
    # Where a client can take the complaint if unsatisfied, per reply language.
    external_route: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_EXTERNAL_ROUTE))

    @field_validator("external_route")
    @classmethod
    def _every_language(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [lang for lang in DEFAULT_EXTERNAL_ROUTE if not value.get(lang, "").strip()]
        if missing:
            raise ValueError(f"needs a text for every reply language; missing: {', '.join(missing)}")
        return value


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # Hours a staff login lasts.
    session_hours: int = Field(8, ge=1)
    # The page's address as staff reach it (https://claims.broker.example); the digest links
    # each claim there. Empty: the digest names claims without links.
    base_url: str = ""

    @field_validator("base_url")
    @classmethod
    def _http_address(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("use the page's address, e.g. https://claims.broker.example")
        return value


DEFAULT_SIGN_OFF = {"en": "Client Services", "zh-Hans": "客户服务部", "zh-Hant": "客戶服務部"}


def _per_language(value: dict[str, Any], empty: Any, *, required: bool) -> dict[str, Any]:
    """One value per reply language: all of them, or (where ``required`` is false) none."""
    languages = tuple(DEFAULT_EXTERNAL_ROUTE)
    unknown = sorted(set(value) - set(languages))
    if unknown:
        raise ValueError(f"unknown reply language {unknown[0]!r}; use: {', '.join(languages)}")
    missing = [lang for lang in languages if not value.get(lang)]
    if missing and (required or len(missing) < len(languages)):
        raise ValueError(f"needs a value for every reply language; missing: {', '.join(missing)}")
    return {lang: value.get(lang) or empty for lang in languages}


class LetterSettings(Section):
    """Who the letters come from: the broker's name, the sign-off and the contact lines under
    it, one value per reply language (a Chinese letter is signed in Chinese)."""

    broker_name: dict[str, str] = Field(default_factory=lambda: dict.fromkeys(DEFAULT_SIGN_OFF, ""))
    sign_off: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SIGN_OFF))
    contact: dict[str, list[str]] = Field(default_factory=lambda: {lang: [] for lang in DEFAULT_SIGN_OFF})
    # An offer drafted as the claim is registered acknowledges it too, and is its only letter;
    # false: a separate acknowledgement as well. An offer that needs a second approval always
    # has one, so that the client hears at once.
    fold_acknowledgement: bool = True

    @field_validator("broker_name")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        return _per_language({k: v.strip() for k, v in value.items()}, "", required=False)

    @field_validator("contact")
    @classmethod
    def _contact_lines(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        lines = {k: [line.strip() for line in v if line.strip()] for k, v in value.items()}
        return _per_language(lines, [], required=False)

    @field_validator("sign_off")
    @classmethod
    def _sign_offs(cls, value: dict[str, str]) -> dict[str, str]:
        return _per_language({k: v.strip() for k, v in value.items()}, "", required=True)


DEFAULT_DELAY_REASON = {
    "en": "the number of claims after the outage means we need more time to check every order "
    "against the trade records",
    "zh-Hans": "本次故障后索赔数量较多，我们需要更多时间将每张订单与交易记录逐一核对",
    "zh-Hant": "本次故障後索償數量較多，我們需要更多時間將每張訂單與交易記錄逐一核對",
}


class JobSettings(Section):
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
    # Why the answer is late, as the delay letter says it (staff can edit each draft): one text
    # per reply language, or one text for all of them.
    delay_reason: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_DELAY_REASON))

    @field_validator("delay_reason", mode="before")
    @classmethod
    def _one_text_for_all(cls, value: Any) -> Any:
        return dict.fromkeys(DEFAULT_DELAY_REASON, value) if isinstance(value, str) else value

    @field_validator("delay_reason")
    @classmethod
    def _reason_per_language(cls, value: dict[str, str]) -> dict[str, str]:
        return _per_language({k: v.strip() for k, v in value.items()}, "", required=True)


_ADDRESS = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")


class _LocalSection(ZonedSection):
    """A section whose days and times are counted in the broker's local zone."""

    timezone: str = "Asia/Hong_Kong"


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
        return split_list(value)

    @property
    def rules(self) -> Rules:
        rules = PRESETS[self.preset]
        return rules.promising(Period(self.promise_days, "calendar_days")) if self.promise_days else rules


class DigestSettings(_LocalSection):
    # Who gets the managers' daily digest; empty: no digest is sent.
    recipients: list[str] = Field(default_factory=list)
    # Local time of day the digest goes out, HH:MM on a 24-hour clock in ``timezone``.
    at: str = "08:00"
    # en: English with a Chinese summary line; zh-Hans or zh-Hant: wholly Chinese.
    language: str = "en"

    @field_validator("language")
    @classmethod
    def _digest_language(cls, value: str) -> str:
        if value not in DEFAULT_EXTERNAL_ROUTE:
            raise ValueError(f"use one of: {', '.join(DEFAULT_EXTERNAL_ROUTE)}")
        return value

    @field_validator("recipients", mode="before")
    @classmethod
    def _recipient_list(cls, value: Any) -> Any:
        return split_list(value)

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
