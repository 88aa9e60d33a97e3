"""A letter's context as JSON, so that the parts of a reply drafted later (its HTML, rendered
when staff preview or approve it) come from the very values its text was drafted from.

Every value a reply's context may hold is written with its type (Decimal digits, a moment with
its zone's name, a day, the computation's dataclasses, a text per language, a tuple) and read
back as the same value; anything else is refused when the reply is drafted, not when it is sent.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from bot.stages.assess import Conversion, Leg, Workings
from bot.stages.draft import PerLanguage, draft

_FIGURES = {cls.__name__: cls for cls in (Workings, Leg, Conversion)}
TAG = "__type"


def encode(context: dict[str, Any]) -> str:
    """Written by orjson, at a tenth of ``json.dumps``'s cost (a letter's context is about 5 kB);
    by the standard library only for what orjson refuses (an integer of more than 64 bits)."""
    plain = _plain(context)
    try:
        return orjson.dumps(plain).decode()
    except orjson.JSONEncodeError:
        return json.dumps(plain, ensure_ascii=False)


def draft_texts(letters: Sequence[tuple[str, str, str]], templates_dir: Path) -> list[tuple[str, str]]:
    """The subject and text of each letter (kind, language, its context as ``encode`` wrote it),
    drafted from the context as stored: what another process renders is what the HTML part,
    drafted later from the same JSON, will say."""
    texts = []
    for kind, language, context in letters:
        drafted = draft(kind, language, decode(context), templates_dir=templates_dir, html=False)
        texts.append((drafted.subject, drafted.body))
    return texts


def decode(text: str) -> dict[str, Any]:
    found = json.loads(text, object_hook=_typed)
    assert isinstance(found, dict)
    return found


def _plain(value: Any) -> Any:
    """``value`` as JSON keeps it. A letter's context holds hundreds of values, so each is
    looked up by its exact type first; ``_tagged`` takes any other (a subclass, or a refusal)."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    exact = _EXACT.get(kind)
    return exact(value) if exact is not None else _tagged(value)


def _tagged(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    for kind in (Decimal, datetime, date, PerLanguage, dict, tuple, list):
        if isinstance(value, kind):
            return _EXACT[kind](value)
    if dataclasses.is_dataclass(value) and type(value).__name__ in _FIGURES:
        return _figure(value)
    raise TypeError(f"a letter's context cannot keep a {type(value).__name__}")


def _mapping(value: dict[Any, Any]) -> dict[str, Any]:
    if TAG in value or not all(isinstance(k, str) for k in value):
        raise TypeError(f"a letter's context cannot keep the mapping {sorted(map(str, value))[:5]}")
    return {k: _plain(v) for k, v in value.items()}


def _moment(value: datetime) -> dict[str, Any]:
    zone = value.tzinfo.key if isinstance(value.tzinfo, ZoneInfo) else None
    return {TAG: "datetime", "v": value.isoformat(), "zone": zone}


def _figure(value: Any) -> dict[str, Any]:
    names = _FIELDS.get(type(value)) or tuple(f.name for f in dataclasses.fields(value))
    return {TAG: type(value).__name__, "v": {name: _plain(getattr(value, name)) for name in names}}


_AS_IS = frozenset({type(None), bool, int, float, str})
_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in _FIGURES.values()}
_EXACT: dict[type, Callable[[Any], Any]] = {
    Decimal: lambda value: {TAG: "decimal", "v": str(value)},
    datetime: _moment,
    date: lambda value: {TAG: "date", "v": value.isoformat()},
    PerLanguage: lambda value: {TAG: "per_language", "v": {k: _plain(v) for k, v in value.items()}},
    dict: _mapping,
    tuple: lambda value: {TAG: "tuple", "v": [_plain(v) for v in value]},
    list: lambda value: [_plain(v) for v in value],
    **{cls: _figure for cls in _FIGURES.values()},
}


def _typed(data: dict[str, Any]) -> Any:
    kind = data.get(TAG)
    if kind is None:
        return data
    value = data["v"]
    if kind == "decimal":
        return Decimal(value)
    if kind == "datetime":
        moment = datetime.fromisoformat(value)
        return moment.astimezone(ZoneInfo(data["zone"])) if data.get("zone") else moment
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "per_language":
        return PerLanguage(value)
    if kind == "tuple":
        return tuple(value)
    if kind in _FIGURES:
        return _FIGURES[kind](**value)
    raise ValueError(f"unknown value type {kind!r} in a letter's context")
