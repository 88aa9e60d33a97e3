"""Draft stage: render a reply of one kind in the client's language from ``templates/``.

Templates are named ``<kind>.<language>.subject.j2`` and ``<kind>.<language>.txt.j2`` and
are rendered in a sandbox with StrictUndefined, so a template that uses a value the bot
does not provide fails loudly instead of putting an empty string in a client's mailbox.
Chinese replies carry the English text below, as the broker's own notice did.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from bot.extract import LANGUAGES

KINDS = ("assessment", "needs_information", "unverified_sender", "followup_received")
SEPARATOR = "\n\n" + "-" * 60 + "\nEnglish version\n" + "-" * 60 + "\n\n"


class TemplateProblem(Exception):
    """A reply template is missing or cannot be rendered; the message names the file."""


@dataclass(frozen=True)
class DraftedReply:
    kind: str
    language: str
    subject: str
    body: str


@lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda value: f"{value:,.2f}"
    return env


def check_templates(templates_dir: Path) -> None:
    """Fail at start-up, naming the file, if any reply kind lacks a template in any language."""
    for kind in KINDS:
        for language in LANGUAGES:
            for part in ("subject", "txt"):
                path = templates_dir / f"{kind}.{language}.{part}.j2"
                if not path.is_file():
                    raise TemplateProblem(f"{path}: template missing (templates_dir = {templates_dir})")
                try:
                    _environment(templates_dir.resolve()).get_template(path.name)
                except TemplateError as exc:
                    raise TemplateProblem(f"{path}: {exc.__class__.__name__}: {exc}") from exc


def draft(kind: str, language: str, context: dict[str, Any], *, templates_dir: Path) -> DraftedReply:
    if kind not in KINDS:
        raise TemplateProblem(f"unknown reply kind {kind!r}")
    language = language if language in LANGUAGES else "en"
    subject = _render(templates_dir, f"{kind}.{language}.subject.j2", context).strip()
    body = _render(templates_dir, f"{kind}.{language}.txt.j2", context).strip() + "\n"
    if language != "en":
        english = _render(templates_dir, f"{kind}.en.txt.j2", context).strip() + "\n"
        body = body + SEPARATOR + english
    reference = context.get("reference")
    if reference and reference not in subject:
        raise TemplateProblem(f"{kind}.{language}.subject.j2 must contain the claim reference")
    return DraftedReply(kind, language, " ".join(subject.split()), body)


def _render(templates_dir: Path, name: str, context: dict[str, Any]) -> str:
    try:
        return _environment(templates_dir.resolve()).get_template(name).render(**context)
    except TemplateError as exc:
        raise TemplateProblem(f"{templates_dir / name}: {exc.__class__.__name__}: {exc}") from exc
