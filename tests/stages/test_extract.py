from __future__ import annotations

import pytest

from bot.stages.consent import bare_yes, confirms
from bot.stages.extract import Consent, consent, detect_language, extract, strip_quoted
from bot.stages.parse import ParsedMessage
from tests.messages import parsed


@pytest.mark.parametrize(
    ("name", "language", "who", "accounts", "orders", "wants"),
    [
        ("en-alice-best-price.eml", "en", "Alice Chen", ["81234567"], ["55667788", "55667789"], "best_price"),
        (
            "zh-hans-gbk-under-gb2312-label.eml",
            "zh-Hans",
            "王喆",
            ["81234568"],
            ["66778899", "66778900"],
            "restore",
        ),
        ("zh-hant-big5.eml", "zh-Hant", "陳大文", ["81234569"], ["77889900"], "best_price"),
        (
            "fullwidth-digits-and-range.eml",
            "zh-Hans",
            "张伟",
            ["81234567"],
            ["55667788", "55667789", "55667790", "55667795"],
            "best_price",
        ),
        ("en-distractors-only-in-signature.eml", "en", "Grace Park", ["81234567"], ["55667788"], "restore"),
        ("qq-reply-quotes-bot-text.eml", "zh-Hans", "李明", [], ["55667790"], "unspecified"),
    ],
)
def test_extracts_who_what_and_which_numbers(
    name: str, language: str, who: str, accounts: list[str], orders: list[str], wants: str
) -> None:
    found = extract(parsed(name))
    assert found.language == language
    assert found.name == who
    assert found.account_numbers() == accounts
    assert found.order_numbers() == orders
    assert found.request == wants


def test_phone_numbers_prices_and_money_are_not_taken_for_numbers() -> None:
    found = extract(parsed("fullwidth-digits-and-range.eml"))
    everything = {c.value for c in (*found.accounts, *found.orders)}
    assert not everything & {"4008867005", "886", "7005", "2000", "13456"}


def test_numbers_in_the_bots_own_quoted_text_are_ignored() -> None:
    found = extract(parsed("qq-reply-quotes-bot-text.eml"))
    everything = {c.value for c in (*found.accounts, *found.orders)}
    assert "99990000" not in everything and "12121212" not in everything


def test_each_number_carries_its_evidence() -> None:
    found = extract(parsed("en-alice-best-price.eml"))
    assert "account number is 81234567" in found.accounts[0].evidence
    assert found.orders[0].evidence.startswith("orders 55667788")


def test_quote_markers_of_common_clients_end_the_clients_words() -> None:
    for marker in (
        "-----Original Message-----",
        "发件人: someone",
        "在 2019年6月27日 写道：",
        "On Thu, 27 Jun 2019, Bob wrote:",
    ):
        assert strip_quoted(f"mine\n{marker}\ntheirs") == "mine"


def test_language_needs_more_than_one_chinese_character() -> None:
    assert detect_language("Order 1 at 中") == "en"
    assert detect_language("請恢復我的訂單") == "zh-Hant"
    assert detect_language("请恢复我的订单") == "zh-Hans"


# Rules added for the independently written corpus: one small text per rule.


def message(text: str, *, subject: str = "", sender_name: str = "", reply: bool = False) -> ParsedMessage:
    return ParsedMessage(
        message_id="<t@example.com>",
        sender="client@example.com",
        sender_name=sender_name,
        subject=subject,
        text=text,
        in_reply_to="<offer@broker.example>" if reply else None,
        references=(),
    )


def numbers(text: str, *, subject: str = "") -> tuple[list[str], list[str]]:
    found = extract(message(text, subject=subject))
    return found.account_numbers(), found.order_numbers()


@pytest.mark.parametrize(
    ("text", "orders"),
    [
        ("Orders:\n55667788\n55667789", ["55667788", "55667789"]),
        ("Orders:\n1. 55667788 (EURUSD buy)\n2. 55667789", ["55667788", "55667789"]),
        ("Tickets 40077812~40077814 stopped out", ["40077812", "40077813", "40077814"]),
        ("order # 61100230 to 61100232 opened at a bad price", ["61100230", "61100231", "61100232"]),
        ("单号由 45500120 至 45500122 全部以异常价格成交", ["45500120", "45500121", "45500122"]),
        ("持仓单：71002345（XAUUSD 买入 2手）、71002388（XAUUSD 买入 1手）", ["71002345", "71002388"]),
        ("訂單：52300411；52300412", ["52300411", "52300412"]),
        ("持倉單 59930021 同 59930087 被強制平倉", ["59930021", "59930087"]),
        (
            "after the outage, three positions closed: 60345512, 60345513 and 60345520",
            ["60345512", "60345513", "60345520"],
        ),
        (
            "Order numbers 55667788, 55667789, and 55667795 were stopped out.",
            ["55667788", "55667789", "55667795"],
        ),
    ],
)
def test_lists_and_ranges_after_an_order_label_are_all_orders(text: str, orders: list[str]) -> None:
    assert numbers(text)[1] == orders


def test_numbers_in_a_column_headed_by_a_label_are_orders() -> None:
    found = extract(parsed("tab-separated-ticket-table.eml"))
    assert found.account_numbers() == ["600123456"]
    assert found.order_numbers() == ["1023456789", "1023457110"]


@pytest.mark.parametrize(
    ("text", "account"),
    [
        ("我的帐号是81459023，定单号88401127", "81459023"),
        ("My trading account is 8153 0021, ticket 10288456 opened at a bad price", "81530021"),
        ("Login ID 81277915. My position 1200456781 was opened during the outage", "81277915"),
        ("Order #70011456 on my account (81512277) was opened during your outage", "81512277"),
        ("acc 2310984 tkt 71820033 stopped out", "2310984"),
        ("my acount numer is 2207781 and the oder numbers are 30451287", "2207781"),
        ("我MT4帳戶係 600455128，position 1200987654 被 stop out", "600455128"),
    ],
)
def test_variant_abbreviated_and_misspelt_account_labels(text: str, account: str) -> None:
    assert numbers(text)[0] == [account]


def test_an_unlabelled_number_before_the_labelled_orders_is_the_account() -> None:
    assert numbers("81250076 单号50871123 被平了 恢复") == (["81250076"], ["50871123"])
    assert numbers("单号50871123 被平了 81250076") == ([], ["50871123"])


def test_a_corrected_number_replaces_the_mistyped_one() -> None:
    text = "訂單號碼：5203381\n（更正：訂單號碼應為 52033816，上面少打了一個數字）"
    assert numbers(text)[1] == ["52033816"]
    assert numbers("order 55667788 (sorry, should be 55667789) on account 81234567") == (
        ["81234567"],
        ["55667789"],
    )


def test_numbers_named_as_something_else_are_never_accounts_or_orders() -> None:
    text = (
        "Account 81234567, order 55667788 stopped out.\nQQ: 3056781234\nbank account 12345678\n"
        "Card no.: 6222 0212 3456 7890 123\nSupport ticket 9988776\nHSBC 戶口 123-456789-001"
    )
    assert numbers(text) == (["81234567"], ["55667788"])


def test_a_ticket_in_mail_with_nothing_about_trading_is_not_an_order() -> None:
    assert numbers("You have won!\nTicket No: 55019283\nBatch No: 7742019") == ([], [])


def test_numbers_in_the_subject_count() -> None:
    assert numbers("See subject", subject="Acct 81455210 / order 66004321 & 66004388 - restore") == (
        ["81455210"],
        ["66004321", "66004388"],
    )


def test_a_forward_of_the_clients_own_mail_is_the_clients_words() -> None:
    found = extract(parsed("forward-of-own-complaint.eml"))
    assert found.account_numbers() == ["6012733"]
    assert sorted(found.order_numbers()) == ["83300211", "83300215", "83300219"]
    assert found.request == "restore"


def test_a_forward_of_someone_elses_mail_is_not() -> None:
    header = "---------- Forwarded message ---------\nFrom: Client Services <c@broker.example>"
    text = f"FYI\n{header}\n\nOrder 99990000"
    assert strip_quoted(text, "client@example.com") == "FYI"


def test_quote_headers_with_a_name_before_the_date_end_the_clients_words() -> None:
    for marker in ("Client Services <c@broker.example> 于 2019年7月3日 写道：", "Bob <b@x.com> wrote:"):
        assert strip_quoted(f"mine\n{marker}\ntheirs") == "mine"


def test_an_english_message_with_chinese_labels_or_signature_is_english() -> None:
    assert detect_language("my account 帳號 81702299, order 訂單號 52017733 was closed. Pls restore.") == "en"
    assert detect_language("Please execute them at the most favourable price.\nRegards,\n黃家豪") == "en"
    assert (
        detect_language("呢張單喺 outage 期間出咗問題，價錢同埋 margin 都唔啱，請盡快處理。Thanks")
        == "zh-Hant"
    )


def test_a_short_chinese_reply_under_an_english_subject_is_chinese() -> None:
    found = extract(message("同意方案1。", subject="Re: Your claim CLM-2019-000182", reply=True))
    assert found.language == "zh-Hans"


@pytest.mark.parametrize(
    ("text", "display", "name"),
    [
        ("帳號：81703390\n請按最有利價格執行\n周兆麟\n\n從我的華為手機傳送", "Samuel Chow", "周兆麟"),
        ("please fix them to the correct price\n\nMike Tan", "mike t", "Mike Tan"),
        (
            "I am writing on behalf of my father, Lim Boon Keng, account holder.\nJason Lim",
            "Jason Lim",
            "Lim Boon Keng",
        ),
        ("我是刘倩，替我父亲刘建华发这封邮件。\n刘倩", "刘倩", "刘建华"),
        ("本人帳號 81019384，請作出合理賠償。\n\n李國榮\n(852) 6123 4567", "李國榮", "李國榮"),
        ("Please restore.\nRegards,\nHong Kong", "Ann Lee", "Ann Lee"),
    ],
)
def test_the_claimants_name(text: str, display: str, name: str) -> None:
    assert extract(message(text, sender_name=display)).name == name


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("I do NOT want the positions restored, I prefer the most favourable price.", "best_price"),
        ("我不要求恢复持仓，按照故障期间最有利的价格执行就行。", "best_price"),
        ("Please refund the loss caused by the abnormal price.", "best_price"),
        ("現要求貴公司退回因異常價格造成的損失", "best_price"),
        ("Please correct price to the best one from the outage period.", "best_price"),
        ("Please execute both at the most\nfavourable price.", "best_price"),
        ("Please look into it and compensate me properly.", "unspecified"),
    ],
)
def test_the_remedy_asked_for(text: str, wanted: str) -> None:
    assert extract(message(text)).request == wanted


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("OK, go ahead with 1. Account 2207781.", "best_price"),
        ("選2\n\n從我的 iPhone 傳送", "restore"),
        ("选2，订单号 55098123", "restore"),
        ("2\n\nSent from my iPhone", "restore"),
        ("Option 2 please for ticket 77012345.\n\nThanks,\nWing Sze", "restore"),
        ("I accept option 2.", "restore"),
        ("我同意第二個方案", "restore"),
    ],
)
def test_plain_choices_are_consent(text: str, answer: str) -> None:
    assert consent(text).answer == answer


@pytest.mark.parametrize(
    "text",
    [
        "I'd agree to option 2 if you also refund the swap. Is that possible?",
        "I'd go with option 2 if possible",
        "option 1 for 55667788 and option 2 for 55667789",
        "2\nbut the amount is wrong",
        "It will take 2 weeks for me to decide",
        "如果可以再多一點，我就同意，不然很難接受",
        "I don't agree with option 1. Option 2 and the swap refunded please.",
    ],
)
def test_conditions_doubts_and_mixed_answers_are_not_consent(text: str) -> None:
    assert consent(text).answer is None


def test_refusing_both_options_is_refusal() -> None:
    assert consent("I don't accept either option.").answer == "refused"


def test_plain_agreement_to_an_offer_of_option_1_only_accepts_option_1() -> None:
    offer = "\n\n> Option 1: execute the order at the most favourable price\n> Amount: USD 631.00"
    assert consent(f"同意。{offer}").answer == "best_price"
    both = f"{offer}\n> Option 2: restore the position"
    assert consent(f"同意。{both}") == Consent(None, True, "同意。")


def test_a_re_subject_without_reply_headers_or_claim_reference_is_not_an_answer() -> None:
    text = "Please execute them at the most favourable price during the outage."
    assert extract(message(text, subject="Re: server outage 26-27 June")).consent.answer is None


def test_a_table_from_an_html_only_mail_gives_its_column_of_tickets() -> None:
    found = extract(parsed("html-table-cells-with-paragraphs.eml"))
    assert found.account_numbers() == ["81234567"]
    assert sorted(found.order_numbers()) == ["55667788", "55667790", "55667791"]


def test_outlooks_plain_text_copy_of_a_table_is_read_row_by_row() -> None:
    found = extract(parsed("outlook-plain-text-table.eml"))
    assert sorted(found.account_numbers()) == ["2309114", "2311042"]
    assert sorted(found.order_numbers()) == ["77120045", "77120046", "77126001", "77126004"]


def test_a_tab_separated_row_broken_over_two_lines_stays_one_row() -> None:
    table = (
        "客戶\t交易帳戶\t訂單號\t品種\n陳先生\t2631005\t20201133\n20201134\tXAUUSD\n"
        "李小姐\t2631188\t20201588\tGBPUSD"
    )
    accounts, orders = numbers(f"以下客戶的訂單：\n{table}\n")
    assert sorted(accounts) == ["2631005", "2631188"]
    assert sorted(orders) == ["20201133", "20201134", "20201588"]


def test_a_masked_price_keeps_the_tabs_of_its_table_row() -> None:
    table = (
        "订单号\t时间\t价格\t获利\n10620011\t2019.06.26 19:31\t1.27402\t-2.10\n"
        "10620015\t2019.06.26 19:33\t1.26880\t-2.10"
    )
    assert sorted(numbers(f"账号 2445190\n{table}")[1]) == ["10620011", "10620015"]


@pytest.mark.parametrize(
    ("text", "account", "orders"),
    [
        ("我個戶口 2620893 琴晚爆咗倉，單號 20110456", ["2620893"], ["20110456"]),
        ("受影响的单子：\n• 10203301\n• 10203308\n账户2423010", ["2423010"], ["10203301", "10203308"]),
        (
            "Account Number: 2173058. My positions #73300112, #73300115 and #73300118 stopped out",
            ["2173058"],
            ["73300112", "73300115", "73300118"],
        ),
        (
            "I hold two accounts with you, 2101187 (USD) and 2101188 (EUR sub-account).",
            ["2101187", "2101188"],
            [],
        ),
        ("My a/c 2255870 could not trade. Trade no. 74410923.", ["2255870"], ["74410923"]),
        ("訂單 21880011 被強制平倉\n\n譚美琪\nMT4: 88122093", ["88122093"], ["21880011"]),
        ("I hold a/c 2107734. The order number shown on my platform is 40318876.", ["2107734"], ["40318876"]),
        ("帳號：2801163\n成交單號（deal）：21780045", ["2801163"], ["21780045"]),
        ("我帳戶 2702218 嘅兩張單 20890056 同 20890061 被強制平倉", ["2702218"], ["20890056", "20890061"]),
        (
            "帳號是 2671120，以下三張訂單在6/26晚上成交：\n\n20560011\n20560014\n",
            ["2671120"],
            ["20560011", "20560014"],
        ),
    ],
)
def test_labels_real_clients_write(text: str, account: list[str], orders: list[str]) -> None:
    found_accounts, found_orders = numbers(text)
    assert (sorted(found_accounts), sorted(found_orders)) == (account, orders)


def test_the_account_named_in_an_mt4_journal_is_the_account() -> None:
    journal = "2019.06.26 19:05:41.006\t'2231187': close order #58830012 buy 1.00 EURUSD at 1.13897"
    assert numbers(f"Here is my journal:\n\n{journal}") == (["2231187"], ["58830012"])


def test_an_unlabelled_number_from_the_series_of_the_labelled_orders_is_an_order() -> None:
    text = "Login: 2190046\nTickets 60234511-13 (EURUSD buys) filled badly. Also 60234520, same thing."
    assert sorted(numbers(text)[1]) == ["60234511", "60234512", "60234513", "60234520"]
    assert numbers("Tickets 60234511 (EURUSD) filled badly. Also 60234520.")[1] == ["60234511"]


def test_an_account_in_the_clients_bank_details_is_not_a_trading_account() -> None:
    text = "My trading account number is 2263317.\nSort code 60-16-13, account 31926819"
    assert numbers(text)[0] == ["2263317"]


def test_correct_number_is_corrects_the_number_before() -> None:
    assert numbers("account 8301 5562... sorry, correct number is 83015526. Order 91200478")[0] == [
        "83015526"
    ]


def test_a_forward_passes_on_the_numbers_of_the_mail_it_forwards() -> None:
    forwarded = (
        '\n\n-------- 转发邮件信息 --------\n发件人："刘建" <liujian@163.com>\n\n'
        "我的账户 2410337 两张单 10120456 被强平了"
    )
    found = extract(message(f"下面转发的是我的客户的邮件。{forwarded}", subject="转发: 客户强平申诉"))
    assert (found.account_numbers(), found.order_numbers()) == (["2410337"], ["10120456"])
    assert extract(message(f"见下。{forwarded}", subject="Re: 客户强平申诉")).account_numbers() == []


def test_a_delivery_report_of_our_own_mail_has_no_client_numbers() -> None:
    bounce = ParsedMessage(
        message_id="<b@mx>",
        sender="mailer-daemon@mx1.broker.example",
        sender_name="Mail Delivery System",
        subject="Undelivered Mail Returned to Sender",
        text="trading account 2208113\nOrder 60455120",
        in_reply_to=None,
        references=(),
        content_type="multipart/report",
    )
    assert (extract(bounce).account_numbers(), extract(bounce).order_numbers()) == ([], [])


def test_a_reply_to_our_public_notice_is_not_an_answer_to_an_offer() -> None:
    notice = "\n\nOn Thu, 27 Jun 2019, Broker Notices <notice@broker.example> wrote:\n> Please email us."
    text = f"account 2233901 order 66019284. Please execute it at the most favourable price.{notice}"
    assert extract(message(text, subject="Re: Important notice", reply=True)).consent.answer is None
    offer = "\n\nOn Fri, Client Services wrote:\n> Your claim CLM-2019-000402\n> Option 1: …"
    assert extract(
        message(f"Option 1 please.{offer}", subject="Re: our offer", reply=True)
    ).consent.answer == ("best_price")


def test_a_new_message_naming_the_claim_in_its_subject_can_refuse() -> None:
    text = "I have read your offer and it is not acceptable."
    assert extract(message(text, subject="CLM-2019-000173 - NOT acceptable")).consent.answer == "refused"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Thank you. Please go with restore for both positions.", "restore"),
        ("好，就1。\n\n傳送自 Windows 10 版郵件", "best_price"),
        ("OK, 2", "restore"),
    ],
)
def test_more_plain_choices_are_consent(text: str, answer: str) -> None:
    assert consent(text).answer == answer


def test_a_denied_refusal_and_a_put_off_confirmation_are_not_consent() -> None:
    offer = "\n\n> 方案 1：按故障期间对您最有利的价格执行"
    assert consent(f"不是不同意，只是想问一下钱什么时候到账？确认了我再回复。{offer}").answer is None


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("我的賬戶整晚無法下單，一直到隔天早上才恢復。請給我合理的補償。", "unspecified"),
        ("等到早上5点半恢复的时候，账户已经亏了一半。要求赔偿。", "unspecified"),
        ("公告说可以恢复持仓，但是恢复了也没用。我不要恢复持仓，按最有利的价格结算。", "best_price"),
        ("81250076 单号50871123 被平了 恢复", "restore"),
        ("单号10510022，被强平了，恢复一下。", "restore"),
        ("I want both of\nthese positions restored exactly as they were.", "restore"),
        ("Restore my positions now!", "restore"),
    ],
)
def test_a_restoring_told_of_is_not_asked_for(text: str, wanted: str) -> None:
    assert extract(message(text)).request == wanted


@pytest.mark.parametrize(
    ("text", "display", "name"),
    [
        ("安安\n帳號 2823305 單號 21990011\n你們是不是應該給個交代啊？", "陳宥廷", "陳宥廷"),
        ("账号 2361184 单号95510023 最优价执行", "903345127", None),
        ("赶紧给我恢复持仓！！！\n\n—— 李浩", "追风少年", "李浩"),
        ("詳見主旨，請依公告恢復倉位。\n\n謝謝\n張先生", "", "張先生"),
        ("Trade no. 74410923. Please compensate me.\n\nEric Chan\n陳先生", "Eric Chan", "Eric Chan"),
        ("要求restore回来，按照你们的notice。\n\nKah Meng", "KM Wong", "Kah Meng"),
        (
            "Kindly restore the positions.\n\nYours sincerely,\nSuresh Kumar R.\nChennai",
            "Suresh Kumar R",
            "Suresh Kumar R.",
        ),
    ],
)
def test_greetings_numbers_titles_dashes_and_initials_in_names(
    text: str, display: str, name: str | None
) -> None:
    assert extract(message(text, sender_name=display)).name == name


@pytest.mark.parametrize(
    "text",
    [
        "Yes, I have read your offer. I will discuss it with my wife.",
        "Yes. Please explain how you calculated this.",
        "I accept your apology. I need some time to decide.",
        "Please go ahead and send me the full trade history.",
        "确认收到，谢谢",
    ],
)
def test_agreeing_to_something_else_is_not_consent(text: str) -> None:
    found = consent(text)
    assert found.answer is None and not found.agrees_without_choice


@pytest.mark.parametrize(
    "text", ["同意", "Yes, I agree.", "I agree to the offer, thanks", "好的同意，请尽快办理。"]
)
def test_plain_agreement_to_the_offer_is_agreement_without_a_choice(text: str) -> None:
    assert consent(text).agrees_without_choice


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Yes, I confirm.", True),
        ("Yes it was me", True),
        ("确认，是我本人。", True),
        ("確認", True),
        ("That wasn't me, I never wrote to you.", False),
        ("不是我发的，请不要执行。", False),
        ("I do not confirm this.", False),
        ("Thanks, what happens next?", None),
        ("Thanks.\n\n> If it was you, please reply and say that you confirm.", None),
    ],
)
def test_an_answer_to_was_it_you_is_read_from_the_clients_own_words(text: str, answer: bool | None) -> None:
    assert confirms(text) is answer


@pytest.mark.parametrize(
    "text",
    [
        "I agree to option 1 once you refund the swap.",
        "I'm happy to go with option 1 as long as the swap is refunded too.",
        "Option 1 is fine provided the swap is refunded.",
        "只要退还隔夜利息，我同意方案1。",
    ],
)
def test_an_answer_with_a_condition_is_never_consent(text: str) -> None:
    found = consent(text)
    assert found.answer is None and not found.agrees_without_choice


@pytest.mark.parametrize(
    ("text", "yes"),
    [
        ("Yes", True),
        ("OK 👍", True),
        ("好的\n\n刘洋", True),
        ("可以\r\n\r\n------------------ 原始邮件 ------------------\r\n发件人: x", True),
        ("Yes, but what about the swap?", False),
        ("OK\nmy new phone is 91234567", False),
        ("Thanks for the offer.", False),
    ],
)
def test_a_bare_yes_is_told_from_a_yes_that_says_more(text: str, yes: bool) -> None:
    assert bare_yes(text) is yes


def test_a_message_naming_thousands_of_numbers_keeps_the_most_likely_hundred() -> None:
    found = extract(
        message(
            "Order numbers: 60201234, 60201235. Thanks.\n\n"
            + " ".join(str(70_000_000 + i) for i in range(3_000))
        )
    )
    assert len(found.orders) == 100 and found.order_numbers() == ["60201234", "60201235"]
