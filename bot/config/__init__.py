"""Typed settings, loaded once from a TOML file with environment overrides.

Every key can be given as ``CLAIMSBOT_<SECTION>_<KEY>`` (or ``CLAIMSBOT_<KEY>`` at the top
level), which is how secrets such as ``CLAIMSBOT_IMAP_PASSWORD`` should reach production.
"""

from __future__ import annotations

import os
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from bot.config.base import ConfigError, Section, ZonedSection, parse_timezone, split_list
from bot.config.claims import (
    DEFAULT_DELAY_REASON,
    DEFAULT_EXTERNAL_ROUTE,
    OUTAGE_2019,
    ApprovalSettings,
    ClaimSettings,
    ComplaintRuleSettings,
    DeadlineSettings,
    DigestSettings,
    IncidentSettings,
    JobSettings,
    LetterSettings,
    TradeServerSettings,
    WebSettings,
)
from bot.config.mail import ImapSettings, IntakeSettings, SmtpSettings

__all__ = [
    "DEFAULT_DELAY_REASON",
    "DEFAULT_EXTERNAL_ROUTE",
    "DEFAULT_TEMPLATES",
    "OUTAGE_2019",
    "ApprovalSettings",
    "ClaimSettings",
    "ComplaintRuleSettings",
    "ConfigError",
    "DeadlineSettings",
    "DigestSettings",
    "ImapSettings",
    "IncidentSettings",
    "IntakeSettings",
    "JobSettings",
    "LetterSettings",
    "Section",
    "Settings",
    "SmtpSettings",
    "TradeServerSettings",
    "WebSettings",
    "ZonedSection",
    "load_settings",
    "parse_timezone",
    "settings_from_mapping",
    "split_list",
]

ENV_PREFIX = "CLAIMSBOT_"
# Per-language settings a variable may give as one text for every language.
_ONE_TEXT_FOR_ALL = frozenset({("jobs", "delay_reason")})


def _default_templates() -> Path:
    """``bot/templates`` in an installed wheel; the repository's top-level ``templates/`` in a checkout."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


DEFAULT_TEMPLATES = _default_templates()


class Settings(Section):
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
    letters: LetterSettings = LetterSettings()
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
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{source}: invalid value for {key}: {message}") from None


def _key_name(loc: tuple[int | str, ...]) -> str:
    """The key as the file spells it: ``[imap.oauth2] tenant``, ``[[incidents]] #2 start``, ``[imap]``."""
    parts = [str(p) for p in loc]
    if len(parts) >= 3 and parts[1].isdigit():
        return f"[[{parts[0]}]] #{int(parts[1]) + 1} {'.'.join(parts[2:])}"
    model: type[BaseModel] = Settings
    sections: list[str] = []
    for part in parts:
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        sections.append(part)
        model = annotation
    rest = ".".join(parts[len(sections) :])
    if not sections:
        return rest
    table = f"[{'.'.join(sections)}]"
    return f"{table} {rest}" if rest else table


def _apply_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Overlay non-empty ``CLAIMSBOT_*`` variables on the file's values; return the names used.
    A section's own sections are reached the same way: ``CLAIMSBOT_IMAP_OAUTH2_CLIENT_SECRET``."""
    used: list[str] = []
    for name, field in Settings.model_fields.items():
        if name in {"source", "incidents"}:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _apply_to_section(raw, name, annotation, f"{ENV_PREFIX}{name}", environ, used)
        else:
            variable = f"{ENV_PREFIX}{name}".upper()
            if environ.get(variable):
                raw[name] = environ[variable]
                used.append(variable)
    return used


def _apply_to_section(
    raw: dict[str, Any],
    name: str,
    model: type[BaseModel],
    prefix: str,
    environ: Mapping[str, str],
    used: list[str],
) -> None:
    section = raw.setdefault(name, {})
    if not isinstance(section, dict):
        return
    for key, inner in model.model_fields.items():
        variable = f"{prefix}_{key}".upper()
        annotation = inner.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _apply_to_section(section, key, annotation, f"{prefix}_{key}", environ, used)
        elif environ.get(variable) and (
            getattr(annotation, "__origin__", None) is not dict or (name, key) in _ONE_TEXT_FOR_ALL
        ):
            value = environ[variable]
            if getattr(annotation, "__origin__", None) is list:
                # A command is split as a shell would (quotes keep spaces), but run without one.
                value = shlex.split(value) if key == "command" else split_list(value)
            section[key] = value
            used.append(variable)
    if not section:
        raw.pop(name)
