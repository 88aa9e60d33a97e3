"""How the parse and extract stages scale with what an attacker can send: one body repeating
"account ... order ..." at growing sizes, a message of many MIME parts, and attachments (a
screenshot to OCR, a long PDF, ten 5 MB files of junk that a child process must give up on,
an image header claiming 3.6 gigapixels). The attachment figures need the test extras
(Pillow draws the screenshot) and Tesseract.

Prints the seconds for each size and the ratio of the largest to the smallest per byte (1.0 is
linear; the quadratic extractor this replaced took 139 s at 384 KB). Run:
    .venv/bin/python bench/hostile.py
"""

from __future__ import annotations

import platform
import time
from email.message import EmailMessage

from bot.stages.attachments import MAX_SECONDS, read_attachments
from bot.stages.extract import extract
from bot.stages.parse import ATTACHMENT_BYTES, parse

LINE = "account 81234570 order 55667790\n"


def timed(raw: bytes) -> tuple[float, float]:
    started = time.perf_counter()
    parsed = parse(raw)
    middle = time.perf_counter()
    extract(parsed)
    return middle - started, time.perf_counter() - middle


def body_of(lines: int) -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = "alice.chen@example.com", "claim"
    message.set_content(LINE * lines)
    return bytes(message)


def parts_of(count: int) -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = "alice.chen@example.com", "parts"
    message.set_content(LINE)
    for i in range(count):
        message.add_related(f"part {i} order 5566{i:04d}", subtype="plain")
    return bytes(message)


def with_files(files: list[tuple[str, bytes, str, str]]) -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = "alice.chen@example.com", "statement attached"
    message.set_content("account 81234567, my orders are in the attachment")
    for name, data, maintype, subtype in files:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(message)


def screenshot() -> bytes:
    import io

    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 32)
    image = Image.new("RGB", (1080, 600), "white")
    draw = ImageDraw.Draw(image)
    for row in range(9):
        draw.text((30, 30 + 60 * row), f"订单 5566{row:04d}   XAUUSD   买入   1.00", fill="black", font=font)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def long_pdf(pages: int) -> bytes:
    """A PDF of ``pages`` pages of order lines, written by hand."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for page in range(pages):
        lines = "".join(f"(Ticket 5566{page:02d}{row:02d} EURUSD buy 1.00) Tj T*\n" for row in range(40))
        stream = f"BT /F1 10 Tf 40 800 Td 12 TL\n{lines}ET"
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        kids.append(len(objects) + 1)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {len(objects)} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>"
        )
    objects.insert(2, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = [k + 1 for k in kids]
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {pages} >>"
    out, offsets = [b"%PDF-1.4\n"], []
    for number, body in enumerate(objects, 1):
        offsets.append(sum(map(len, out)))
        out.append(f"{number} 0 obj\n{body}\nendobj\n".encode())
    xref = sum(map(len, out))
    out.append(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out += [f"{o:010d} 00000 n \n".encode() for o in offsets]
    out.append(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return b"".join(out)


def attachments() -> None:
    bomb = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (60_000).to_bytes(4, "big") * 2 + bytes(64)
    junk = bytes(range(256)) * (ATTACHMENT_BYTES // 256)
    ranges = " ".join(f"{10_000_000 + i * 100}-49" for i in range(16_000)).encode()
    cases = [
        ("an HTML statement of '<a' x 500,000", [("DetailedStatement.htm", b"<a" * 500_000, "text", "html")]),
        ("a CSV of one 140,000-letter cell", [("orders.csv", b"a" * 140_000, "text", "csv")]),
        ("a text file of 16,000 ranges '10000000-49'", [("orders.txt", ranges, "text", "plain")]),
        ("a 1080x600 screenshot, OCR", [("orders.png", screenshot(), "image", "png")]),
        ("a 30-page PDF statement", [("statement.pdf", long_pdf(30), "application", "pdf")]),
        ("ten 5 MB files that are no PDF", [(f"x{i}.pdf", junk, "application", "pdf") for i in range(10)]),
        ("a PNG header claiming 60000x60000", [("bomb.png", bomb, "image", "png")]),
    ]
    for what, files in cases:
        message = parse(with_files(files))
        started = time.perf_counter()
        found = read_attachments(message)
        extract(message, attachments=found)
        seconds = time.perf_counter() - started
        read = sum(bool(a.text) for a in found)
        print(
            f"{what}: {seconds:6.2f} s read and extracted, {read} of {len(found)} read "
            f"(budget {MAX_SECONDS:.0f} s a message)"
        )


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    per_byte = []
    for lines in (1_200, 12_000, 30_000):
        raw = body_of(lines)
        parse_s, extract_s = timed(raw)
        per_byte.append((parse_s + extract_s) / len(raw))
        print(f"body {len(raw) / 1024:8.0f} KB: parse {parse_s:6.2f} s, extract {extract_s:6.2f} s")
    print(f"ratio seconds per byte, largest / smallest body: {per_byte[-1] / per_byte[0]:.2f}")
    for count in (1_000, 10_000):
        raw = parts_of(count)
        parse_s, extract_s = timed(raw)
        print(
            f"{count:6d} parts ({len(raw) / 1024:.0f} KB): parse {parse_s:6.2f} s, extract {extract_s:6.2f} s"
        )
    for what, body in (("140,000 letters in one run", "a" * 140_000), ("140,000 digits", "1" * 140_000)):
        message = EmailMessage()
        message["From"], message["Subject"] = "alice.chen@example.com", "claim"
        message.set_content(body)
        parse_s, extract_s = timed(bytes(message))
        print(f"a body of {what}: parse {parse_s:6.2f} s, extract {extract_s:6.2f} s")
    attachments()


if __name__ == "__main__":
    main()
