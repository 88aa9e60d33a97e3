"""Property-based tests of the decoding paths: what a Chinese mail client sends is read back."""

from __future__ import annotations

import base64
import email.header

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.stages.parse import Unreadable, _header_text, parse

COMMON = "的我是您好请號号單单帳账户订訂交易價价格故障賠赔償偿補补恢復复謝谢"
SIMPLIFIED = "我是您好请号单账户订交易价格故障赔偿补恢复谢的了在有不这个们"
TRADITIONAL = "我是您好請號單帳戶訂交易價格故障賠償補恢復謝的了在有不這個們"
ASCII = "0123456789 ,.:"


def message(body: bytes, charset: str | None, subject: bytes = b"claim") -> bytes:
    label = f'; charset="{charset}"' if charset else ""
    return (
        b"From: client@example.com\r\nTo: complaint@broker.example\r\nSubject: " + subject + b"\r\n"
        b"Message-ID: <p@example.com>\r\nMIME-Version: 1.0\r\n"
        + f"Content-Type: text/plain{label}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".encode()
        + body
    )


def words(alphabet: str) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet + ASCII, min_size=4, max_size=60).filter(
        lambda t: sum(c in COMMON for c in t) >= 2
    )


@given(words(SIMPLIFIED), st.sampled_from(["gb2312", "GBK", "gb18030", "x-gbk"]))
def test_gbk_bytes_under_any_chinese_label_read_back_exactly(text: str, label: str) -> None:
    assert parse(message(text.encode("gbk"), label)).text == text


@given(words(TRADITIONAL), st.sampled_from(["big5", "Big5-HKSCS", "x-big5"]))
def test_big5_bytes_read_back_exactly(text: str, label: str) -> None:
    assert parse(message(text.encode("big5"), label)).text == text


@given(st.one_of(words(SIMPLIFIED).map(lambda t: (t, "gbk")), words(TRADITIONAL).map(lambda t: (t, "big5"))))
@settings(max_examples=60)
def test_an_unlabelled_chinese_body_is_detected_and_the_repair_noted(case: tuple[str, str]) -> None:
    text, encoding = case
    parsed = parse(message(text.encode(encoding), None))
    assert [c for c in parsed.text if c.isdigit()] == [c for c in text if c.isdigit()], "numbers survive"
    assert parsed.defects, "a fallback must be recorded"
    if sum(c in COMMON for c in text) >= 4:
        assert parsed.text == text


@given(st.text(min_size=1, max_size=30).filter(lambda t: "\r" not in t and "\n" not in t), st.data())
def test_encoded_words_split_inside_a_character_join_back(subject: str, data: st.DataObject) -> None:
    raw = subject.encode("utf-8")
    cut = data.draw(st.integers(0, len(raw)))
    parts = [p for p in (raw[:cut], raw[cut:]) if p]
    header = b" ".join(b"=?utf-8?b?" + base64.b64encode(p) + b"?=" for p in parts)
    assert parse(message(b"x", "utf-8", header)).subject == subject


@given(st.binary(min_size=0, max_size=200), st.sampled_from(["utf-8", "gb2312", "big5", "x-unknown", None]))
@settings(max_examples=150)
def test_any_body_is_read_or_refused_with_a_reason_never_crashes(body: bytes, label: str | None) -> None:
    try:
        parsed = parse(message(body, label))
    except Unreadable as exc:
        assert str(exc)
    else:
        assert isinstance(parsed.text, str)


# Raw 8-bit bytes in a header reach it as surrogate escapes; folding as CR LF and a tab.
_HEADER_CHARACTERS = st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(
    "\udce9\udcff=? \t\r\n"
)


@given(st.text(_HEADER_CHARACTERS))
def test_a_header_without_an_encoded_word_reads_as_the_email_package_reads_it(value: str) -> None:
    expected = str(email.header.make_header(email.header.decode_header(value)))
    assert "=?" in value or _header_text(value) == (expected if value else "")
