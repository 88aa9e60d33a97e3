"""``letters preview DIR``: every kind of letter in every language, for a sample claim, as staff
would see it sent (.eml) and as it reads in a mail program (.html), before a real incident."""

from __future__ import annotations

import argparse
from html import escape
from pathlib import Path

from bot.cli.common import CONFIG_HELP, Command, fail, settings_of
from bot.config import Settings
from bot.stages.draft import KINDS, check_templates, draft
from bot.stages.extract import LANGUAGES


def register(command: Command) -> None:
    letters = command(
        "letters", "read the letters the bot drafts, before a real incident", _letters, config=False
    )
    what = letters.add_subparsers(dest="letters_command", required=True, metavar="WHAT")
    preview = what.add_parser(
        "preview", help="write every kind in every language for a sample claim to DIR, as .eml and .html"
    )
    preview.add_argument("dir", type=Path, metavar="DIR")
    preview.add_argument("--config", type=Path, help=CONFIG_HELP)


def _letters(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    try:
        args.dir.mkdir(parents=True, exist_ok=True)
        written = write_gallery(settings, args.dir)
    except OSError as exc:
        return fail(f"cannot write the letters to {args.dir}: {exc.strerror or exc}")
    print(f"{len(written)} letters written to {args.dir}; open {args.dir / 'index.html'} to read them")
    return 0


def write_gallery(settings: Settings, folder: Path) -> list[Path]:
    """``<kind>.<language>.eml`` and ``.html`` for every kind and language, and an index."""
    from bot.claims import samples
    from bot.mail.outbox import compose, page
    from bot.storage.tables import Reply, utcnow

    check_templates(settings.templates_dir)
    written, rows = [], []
    for language in LANGUAGES:
        contexts = samples.contexts(settings, language)
        for kind in KINDS:
            letter = draft(kind, language, contexts[kind], templates_dir=settings.templates_dir)
            reply = Reply(
                claim_id=42,
                kind=kind,
                language=letter.language,
                to_address="client@example.com",
                subject=letter.subject,
                body_text=letter.body,
                body_html=letter.html,
                message_id=f"<preview-{kind}-{language}@{settings.smtp.message_id_domain}>",
                created_at=utcnow(),
            )
            name = f"{kind}.{language}"
            (folder / f"{name}.eml").write_bytes(bytes(compose(reply, settings.smtp)))
            (folder / f"{name}.html").write_text(page(reply), encoding="utf-8")
            written.append(folder / f"{name}.html")
            rows.append(
                f'<li><a href="{escape(name)}.html">{escape(kind)} ({escape(language)})</a>: '
                f"{escape(letter.subject)}</li>"
            )
    index = folder / "index.html"
    index.write_text(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Letters</title></head><body>\n'
        f"<h1>Every letter, for sample claim {samples.REFERENCE}</h1>\n<ul>\n" + "\n".join(rows) + "\n</ul>\n"
        "</body></html>\n",
        encoding="utf-8",
    )
    return written
