"""The page in the reader's language: English, 简体中文 or 繁體中文.

The page's own words are marked in the templates (``_()``, ``{% trans %}``) and in the web
modules (``gettext``); their translations are the gettext catalogues in ``locale/`` (PO files,
read with Babel when the page starts, so no compiled file is kept in the repository). A
person's choice is kept with their account; before they choose, or before they log in, the
browser's ``Accept-Language`` decides. Refusals written by the claim's rules
(``bot.claims.approval``) are shown as they were written, in English.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import cache
from gettext import NullTranslations
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = {"en": "English", "zh-Hans": "简体中文", "zh-Hant": "繁體中文"}
CATALOGUES = Path(__file__).parent / "locale"
_TRADITIONAL = {"TW", "HK", "MO"}
_ENGLISH = NullTranslations()
_current: ContextVar[NullTranslations | None] = ContextVar("language", default=None)


@cache
def translations(language: str) -> NullTranslations:
    path = CATALOGUES / f"{language}.po"
    if language == "en" or not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language.replace("-", "_"))
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def use(language: str) -> None:
    """Speak ``language`` for the rest of this request."""
    _current.set(translations(language if language in LANGUAGES else "en"))


def N_(message: str) -> str:
    """Marks a message for the catalogues where it is defined; ``gettext`` translates it where shown."""
    return message


def gettext(message: str) -> str:
    return (_current.get() or _ENGLISH).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return (_current.get() or _ENGLISH).ngettext(singular, plural, n)


def negotiate(accept_language: str) -> str:
    """The language to speak to a browser that sent this ``Accept-Language``: its first English or
    Chinese tag (Taiwan, Hong Kong and Macau, or a Hant script, read Traditional), else English."""
    for part in accept_language.split(",")[:20]:
        tag = part.split(";")[0].strip()
        try:
            locale = Locale.parse(tag, sep="-") if tag and tag != "*" else None
        except (UnknownLocaleError, ValueError, TypeError):
            continue
        if locale is None or locale.language not in ("en", "zh"):
            continue
        if locale.language == "en":
            return "en"
        traditional = locale.script == "Hant" or (not locale.script and locale.territory in _TRADITIONAL)
        return "zh-Hant" if traditional else "zh-Hans"
    return "en"
