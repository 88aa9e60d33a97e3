from __future__ import annotations

from pathlib import Path

import pytest

from bot.stages.markup import html_to_text
from bot.stages.parse import Unreadable, msg_ids, parse
from tests import TESTS
from tests.messages import eml, parsed


def test_gbk_bytes_under_a_gb2312_label_are_read() -> None:
    message = parsed("zh-hans-gbk-under-gb2312-label.eml")
    assert message.sender_name == "王喆"
    assert "王喆" in message.text and "81234568" in message.text
    assert message.subject == "赔偿申请 账号81234568"


def test_big5_message_is_read() -> None:
    message = parsed("zh-hant-big5.eml")
    assert "陳大文" in message.text and message.subject == "報價故障賠償"


def test_corpus_message_with_gbk_under_gb2312_label_keeps_its_chinese_body() -> None:
    # mail-parser's own sample: mail-parser alone drops this body (see tests/data/mail/LICENSE.mail-parser).
    message = parsed("mail-parser-gbk-under-gb2312.eml")
    assert "\ufffd" not in message.subject and any("\u4e00" <= c <= "\u9fff" for c in message.text)


def test_utf8_bytes_under_a_gb2312_label_are_read() -> None:
    message = parsed("mail-parser-utf8-under-gb2312.eml")
    assert "增值税发票" in message.subject and "你好" in message.text


def test_html_only_message_is_turned_into_text() -> None:
    message = parsed("html-only-outlook.eml")
    assert "81234567" in message.text and "<" not in message.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken-unknown-charset.eml", "unknown charset"),
        ("broken-mime-boundary.eml", "broken MIME structure"),
        ("mail-parser-malformed-1.eml", "StartBoundaryNotFoundDefect"),
    ],
)
def test_unreadable_messages_say_why(name: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        parse(eml(name))


def test_html_to_text_drops_scripts_and_keeps_lines() -> None:
    assert html_to_text("<p>Account 1</p><script>x()</script><div>Order&nbsp;2</div>") == "Account 1\nOrder 2"


def test_split_encoded_words_and_rfc2231_file_names_are_decoded() -> None:
    message = parsed("split-encoded-words-unlabelled-gbk-body.eml")
    assert (message.sender_name, message.subject) == ("王喆", "补偿申请")
    assert message.attachments == ("订单截图.pdf",)
    assert "交易账号 81234568" in message.text
    assert message.defects == ("text is not valid 'us-ascii'; detected gb18030",)


def test_a_message_with_no_text_is_refused_with_the_reason() -> None:
    with pytest.raises(Unreadable, match="no text"):
        parse(eml("attachment-only.eml"))


CORPUS = sorted((TESTS / "data" / "corpus").glob("*/*[0-9].*"))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_world_messages_are_read_or_refused_never_crash(path: Path) -> None:
    try:
        message = parse(path.read_bytes())
    except Unreadable as exc:
        assert str(exc)
    else:
        assert message.sender and isinstance(message.text, str)


def test_html_table_cells_are_tab_separated_and_rows_are_lines() -> None:
    markup = "<table><tr><td><p>Ticket</p></td><td>Lots</td></tr><tr><td><p>1</p><p>2</p></td><td></td></tr>"
    assert html_to_text(markup) == "Ticket\tLots\n1 2\t"


def test_an_html_only_table_keeps_its_columns() -> None:
    message = parsed("html-table-cells-with-paragraphs.eml")
    assert "Ticket\tSymbol\tPrice\n55667788\tEURUSD\t1.14105\n55667790 55667791\t\t1.14112" in message.text


def test_an_address_inside_an_encoded_display_name_never_becomes_the_sender() -> None:
    message = parsed("forged-consent-encoded-display-name.eml")
    assert message.sender == "eve@evil.example"
    assert message.shown_address == "alice.chen@example.com"
    assert "display name shows alice.chen@example.com" in message.sender_doubt


def test_a_from_header_with_two_addresses_is_doubted() -> None:
    message = parsed("from-two-addresses.eml")
    assert message.sender == "alice.chen@example.com"
    assert message.sender_doubt == "the From header names 2 addresses"


def test_folded_or_malformed_message_ids_are_dropped_not_kept() -> None:
    message = parsed("folded-message-id-from-stranger.eml")
    assert message.message_id == "<p@evil>" and message.in_reply_to == "<q@evil>"
    assert msg_ids("<a b@c> <ok@d>\r\n <x@y\r\n>") == ("<ok@d>",)
    assert msg_ids("<" + "a" * 300 + "@b>") == ()


def test_an_ordinary_sender_is_trusted() -> None:
    message = parsed("en-alice-best-price.eml")
    assert (message.sender, message.sender_doubt, message.shown_address) == ("alice.chen@example.com", "", "")


def test_an_encoded_word_or_raw_8bit_text_is_never_an_address() -> None:
    raw = eml("en-alice-best-price.eml").replace(
        b"From: Alice Chen <alice.chen@example.com>", b"From: =?utf-8?b?5byg5LiJ?=@qq.com"
    )
    with pytest.raises(Unreadable, match="no usable From address"):
        parse(raw)
