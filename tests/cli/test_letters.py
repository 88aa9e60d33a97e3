"""``claimsbot letters preview``: every kind in every language written out for staff to read,
and each one read on a 390 px phone in Chromium without a table squeezing its words."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from bot.cli import main
from bot.stages.draft import KINDS
from bot.stages.extract import LANGUAGES

# Every table cell and paragraph with text whose content box is narrower than two characters
# of its own font: a Chinese word there is drawn one character per line.
NARROW = """() => [...document.querySelectorAll("th, td, p, li")]
  .filter((el) => el.textContent.trim())
  .map((el) => {
    const style = getComputedStyle(el);
    const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    const width = el.getBoundingClientRect().width - padding;
    return {text: el.textContent.trim().slice(0, 30), width, font: parseFloat(style.fontSize)};
  })
  .filter((cell) => cell.width < 2 * cell.font)"""


def test_preview_writes_every_kind_in_every_language_as_mail_and_page(tmp_path: Path) -> None:
    assert main(["letters", "preview", str(tmp_path / "letters")]) == 0
    for kind in KINDS:
        for language in LANGUAGES:
            sent = email.message_from_bytes(
                (tmp_path / "letters" / f"{kind}.{language}.eml").read_bytes(), policy=policy.default
            )
            assert "CLM-2019-000042" in sent["Subject"]
            parts = {part.get_content_type() for part in sent.walk()}
            assert {"text/plain", "text/html"} <= parts
            page = (tmp_path / "letters" / f"{kind}.{language}.html").read_text(encoding="utf-8")
            assert page.startswith("<!DOCTYPE html>") and f'lang="{language}"' in page
    index = (tmp_path / "letters" / "index.html").read_text(encoding="utf-8")
    assert index.count("<li>") == len(KINDS) * len(LANGUAGES)


def test_a_preview_directory_that_cannot_be_written_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    assert main(["letters", "preview", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert "cannot write the letters" in err and "Traceback" not in err


def test_every_letter_reads_on_a_390_px_phone_in_the_browser(tmp_path: Path, browser: Browser) -> None:
    assert main(["letters", "preview", str(tmp_path)]) == 0
    pages = sorted(p for p in tmp_path.glob("*.html") if p.name != "index.html")
    assert len(pages) == len(KINDS) * len(LANGUAGES)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        for path in pages:
            page.goto(path.as_uri())
            assert page.evaluate(NARROW) == [], path.name
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path.name
        page.goto((tmp_path / "offer.zh-Hans.html").as_uri())
        cells = page.locator("table.order th").count()
        assert cells >= 6, "the offer shows each order as a table of its own"
        page.screenshot(path=str(tmp_path / "offer-phone.png"), full_page=True)
    finally:
        context.close()
