"""Settings for the managers' side: complaint-handling clocks (``[deadlines]``) and the daily
digest (``[digest]``), two sections of the one settings object, ``bot.config.Settings``.

This module does not import ``bot.config`` at import time, so that ``bot.config`` can import
it at its top: a section subclassing ``bot.config._Section`` here would make the two modules
import each other. ``_OperationsSection`` has the same model configuration (unknown keys
refused, frozen), and ``bot.config`` treats any nested pydantic model as a section.
"""

from __future__ import annotations

import re
from datetime import date, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.deadlines import PRESETS, Period, Rules

_ADDRESS = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")


class _OperationsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _LocalSection(_OperationsSection):
    """A section whose days and times are counted in the broker's local zone."""

    timezone: str = "Asia/Hong_Kong"

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        _timezone(value)
        return value

    @property
    def tz(self) -> tzinfo:
        return _timezone(self.timezone)


def _split(value: Any) -> Any:
    """A list given as one string (an environment variable): ``"a@x.com, b@y.com"``."""
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;\s]+", value) if part.strip()]
    return value


def _timezone(value: str) -> tzinfo:
    from bot.config import parse_timezone

    return parse_timezone(value)


class DeadlineSettings(_LocalSection):
    # asic, fca, cysec or broker (bot.deadlines says what each counts).
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
