"""What every settings section shares: no unknown keys, frozen values, and time zones read
as an IANA name or a fixed offset."""

from __future__ import annotations

import re
from datetime import timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator


class ConfigError(Exception):
    """A configuration problem, phrased as one line that names the key and the file."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@lru_cache(maxsize=256)
def parse_timezone(value: str) -> tzinfo:
    """An IANA name (``Europe/Athens``) or a fixed offset (``+03:00``); kept, as every letter
    asks for the zones of the settings."""
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


class ZonedSection(Section):
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


def split_list(value: Any) -> Any:
    """A list given as one string (an environment variable): ``"a@x.com, b@y.com"``."""
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;\s]+", value) if part.strip()]
    return value
