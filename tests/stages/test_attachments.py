"""The text of what clients attach: each format, and each limit."""

from __future__ import annotations

import io
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from bot.stages import attachments
from bot.stages.attachments import ocr_languages, read_attachments
from bot.stages.extract import extract
from bot.stages.parse import ATTACHMENT_BYTES, parse
from tests import TESTS
from tests.conftest import _require
from tests.messages import eml, parsed

CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def screenshot(lines: list[str]) -> bytes:
    """A phone screenshot of an order list: dark text on white, in a CJK font."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(CJK_FONT, 32)
    image = Image.new("RGB", (900, 70 + 56 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((30, 30 + 56 * row), line, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def with_attachment(name: str, data: bytes, filename: str, maintype: str, subtype: str) -> bytes:
    message = message_from_bytes(eml(name), policy=policy.default)
    assert isinstance(message, EmailMessage)
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message)


@pytest.mark.parametrize(
    ("name", "kind", "ticket"),
    [
        ("attachment-mt4-statement.eml", "html", "55667788"),
        ("attachment-pdf-statement.eml", "pdf", "55667789"),
        ("attachment-xlsx-orders.eml", "xlsx", "55667788"),
    ],
)
def test_an_order_number_only_in_an_attachment_is_a_candidate(name: str, kind: str, ticket: str) -> None:
    message = parsed(name)
    assert ticket not in message.text
    found = read_attachments(message)
    assert [a.kind for a in found] == [kind] and found[0].note == ""
    assert ticket in found[0].text
    extraction = extract(message, attachments=found)
    assert ticket in extraction.order_numbers(0.0)
    evidence = next(c.evidence for c in extraction.orders if c.value == ticket)
    assert evidence.startswith(f"attachment {found[0].name}")


def test_a_screenshot_is_read_by_ocr() -> None:
    _require(ocr_languages() == attachments.OCR_LANGUAGES, "Tesseract with chi_sim, chi_tra and eng")
    image = screenshot(["订单号        品种      类型", "66778900    EURUSD    sell", "平仓时间 2019.06.27"])
    raw = with_attachment("screenshot-of-orders.eml", image, "截图.png", "image", "png")
    found = read_attachments(parse(raw))
    assert found[0].kind == "image" and "66778900" in found[0].text, found


def test_an_outlook_msg_forward_is_read_for_its_headers_and_body() -> None:
    msg = (TESTS / "data" / "attachments" / "outlook-test-file.msg").read_bytes()
    raw = with_attachment("screenshot-of-orders.eml", msg, "forward.msg", "application", "vnd.ms-outlook")
    (found,) = read_attachments(parse(raw))
    assert found.kind == "msg" and found.note == ""
    assert "Subject: MSG Test File" in found.text and "John Doe" in found.text


def test_without_tesseract_a_screenshot_is_kept_and_said_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attachments, "ocr_languages", lambda: ())
    raw = with_attachment(
        "screenshot-of-orders.eml", b"\x89PNG\r\n\x1a\n" + bytes(16), "a.png", "image", "png"
    )
    found = read_attachments(parse(raw))
    assert found[0].text == "" and "not installed" in found[0].note


def test_a_broken_pdf_is_said_unreadable_and_stops_nothing() -> None:
    raw = with_attachment("screenshot-of-orders.eml", b"%PDF-1.4\nnot really", "x.pdf", "application", "pdf")
    found = read_attachments(parse(raw))
    assert found[0].text == "" and found[0].note.startswith("not read:")


def test_an_image_of_enormous_size_is_not_decoded() -> None:
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (60000).to_bytes(4, "big") * 2
    raw = with_attachment("screenshot-of-orders.eml", header + bytes(64), "bomb.png", "image", "png")
    found = read_attachments(parse(raw))
    if ocr_languages():
        assert "too large" in found[0].note
    else:
        assert "not installed" in found[0].note


def test_an_attachment_over_the_size_limit_is_not_read() -> None:
    raw = with_attachment("screenshot-of-orders.eml", b"x" * (ATTACHMENT_BYTES + 1), "big.csv", "text", "csv")
    found = read_attachments(parse(raw))
    assert found[0].text == "" and "over" in found[0].note


def test_a_slow_format_is_stopped_at_its_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attachments, "SECONDS_PER_FILE", 0.01)
    raw = with_attachment("screenshot-of-orders.eml", b"%PDF-1.4\n", "slow.pdf", "application", "pdf")
    found = read_attachments(parse(raw))
    assert "took over" in found[0].note


def test_a_number_in_a_file_name_is_a_candidate() -> None:
    raw = with_attachment("screenshot-of-orders.eml", b"GIF89a" + bytes(8), "66778900.gif", "image", "gif")
    message = parse(raw)
    extraction = extract(message, attachments=read_attachments(message))
    assert "66778900" in extraction.order_numbers(0.0)


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("DetailedStatement.htm", b"<a" * 500_000),
        ("s.htm", b"<p>hi</p><![ foo"),
        ("orders.csv", b"a" * 140_000),
        ("orders.csv", b"ticket\n" + b'60201234,"' + b"x" * 200_000 + b'"\n'),
    ],
)
def test_markup_and_exports_that_break_their_parsers_are_read_or_said_unread(
    filename: str, data: bytes
) -> None:
    """Each of these raised or took minutes (bench/hostile.py has the times)."""
    subtype = "html" if filename.endswith(".htm") else "csv"
    raw = with_attachment("screenshot-of-orders.eml", data, filename, "text", subtype)
    (found,) = read_attachments(parse(raw))
    assert found.kind == subtype and (found.text or found.note)


def test_a_file_name_is_kept_to_a_file_names_length() -> None:
    name = "10000000-49 " * 2000 + ".txt"
    raw = with_attachment("screenshot-of-orders.eml", b"orders", name, "text", "plain")
    assert len(parse(raw).attached[0].name) == 255
