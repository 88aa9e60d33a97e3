"""Writes the labelled extraction corpus: tests/corpus/mail/*.eml and tests/corpus/labels.json.

The messages are synthetic: composed from phrase banks written the way clients of a forex
broker write complaints (English, Simplified and Traditional Chinese, mixed), sent from the
mail programs they use (QQ Mail, Foxmail, Outlook, Gmail, phones), with the labels, lists,
full-width digits, quoted replies and distractors that make extraction hard. Each message's
expected fields are known by construction and stored in labels.json. Rerun to regenerate:
  python tests/corpus/make_corpus.py
"""

from __future__ import annotations

import base64
import json
import quopri
import random
from email.header import Header
from pathlib import Path

HERE = Path(__file__).parent
RNG = random.Random(2019)

EN_NAMES = [
    "Alice Chen",
    "Brian Wong",
    "Carmen Lee",
    "David Tan",
    "Emily Ho",
    "Frank Liu",
    "Grace Park",
    "Henry Ng",
    "Irene Lam",
    "Jason Yip",
    "Karen Cheung",
    "Leo Zhang",
]
HANS_NAMES = ["王喆", "李明", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴敏"]
HANT_NAMES = ["陳大文", "黃小明", "林志強", "張家豪", "李嘉欣", "吳國華", "劉德明", "鄭美玲"]

EN_ACCOUNT = [
    "account {a}",
    "account no. {a}",
    "Account number: {a}",
    "MT4 account {a}",
    "login {a}",
    "acct {a}",
    "a/c {a}",
    "trading account {a}",
    "my account is {a}",
    "Account #: {a}",
]
EN_ORDERS = [
    "orders {o}",
    "order #{o}",
    "tickets {o}",
    "ticket no. {o}",
    "positions {o}",
    "order numbers {o}",
    "Order No.: {o}",
]
HANS_ACCOUNT = [
    "账号：{a}",
    "交易账号 {a}",
    "MT4账号:{a}",
    "账户号码：{a}",
    "交易账户{a}",
    "我的账号是{a}",
    "账户 {a}",
]
HANS_ORDERS = ["订单号：{o}", "订单 {o}", "单号{o}", "持仓单 {o}", "订单号码：{o}"]
HANT_ACCOUNT = ["帳號：{a}", "交易帳號 {a}", "賬戶 {a}", "帳戶號碼：{a}", "MT4帳號:{a}", "我的帳號是{a}"]
HANT_ORDERS = ["訂單號：{o}", "訂單 {o}", "單號{o}", "持倉單 {o}", "訂單號碼：{o}"]

EN_REQUEST = {
    "best_price": [
        "Please execute them at the best price during the outage as your notice promised.",
        "I request execution at the most favourable price in the outage window.",
        "Kindly re-price at the most favorable price during the outage.",
    ],
    "restore": [
        "Please restore my positions that were force-liquidated.",
        "I want the stopped-out position reinstated.",
        "Please reopen the position you closed.",
    ],
    "unspecified": [
        "Please compensate me for the losses.",
        "What will you do about this?",
        "I expect a fair solution.",
    ],
}
HANS_REQUEST = {
    "best_price": ["请按故障期间最优价格执行。", "要求按对我最有利的价格执行。"],
    "restore": ["请恢复我被强平的订单。", "要求恢复持仓。"],
    "unspecified": ["请给我一个说法。", "请尽快处理并赔偿损失。"],
}
HANT_REQUEST = {
    "best_price": ["請按故障期間最優價格執行。", "要求按對我最有利的價格執行。"],
    "restore": ["請恢復我被強平的訂單。", "要求恢復持倉。"],
    "unspecified": ["請盡快處理並賠償損失。", "請給我一個交代。"],
}
EN_SEPARATORS = [", ", " and ", "; ", " / "]
ZH_SEPARATORS = ["、", "，", " ", "和"]

DISTRACTORS_EN = [
    "You can call me on 400-886-7005.",
    "My phone is +852 9123 4567.",
    "EURUSD was quoted at 1.13456 at 19:05.",
    "I lost USD 2,000 on 26/06/2019.",
    "My other email is trader.backup@example.net.",
    "The price jumped to 1398.10 at 21:30:15.",
]
DISTRACTORS_ZH = [
    "我的电话 13800138000。",
    "客服电话400-886-7005打不通。",
    "当时报价1.13456，损失USD 2,000。",
    "2019年6月26日19:05下单。",
    "價格跳到1398.10，虧損3,500美元。",
]

EN_CONSENT = {
    "best_price": [
        "I agree, option 1 please.",
        "Yes, I accept option 1.",
        "I choose option 1 for all orders.",
        "1",
    ],
    "restore": ["I choose option 2, please restore the position.", "Yes, go ahead with option 2.", "2"],
    "refused": [
        "I do not agree with this offer.",
        "I don't accept the amounts.",
        "I refuse this offer, it is far too low.",
    ],
    None: [
        "Should I agree to option 1? What happens next?",
        "Can I choose both options?",
        "Thanks, I will think about it.",
    ],
}
HANS_CONSENT = {
    "best_price": ["同意方案1。", "我同意按最优价格执行。", "我选择方案一。"],
    "restore": ["同意方案2，请恢复持仓。", "我选择恢复订单。"],
    "refused": ["不同意。", "我不接受这个方案，金额太少。", "拒绝这个赔偿方案。"],
    None: ["同意吗?我还在考虑。", "如果同意的话会怎样?", "请问方案1和方案2有什么区别?"],
}
HANT_CONSENT = {
    "best_price": ["同意方案1。", "我同意按最優價格執行。"],
    "restore": ["同意方案2，請恢復持倉。", "我選擇恢復訂單。"],
    "refused": ["不同意。", "我不接受這個方案。"],
    None: ["同意嗎?我還在考慮。", "請問方案1和方案2有什麼區別?"],
}
NOT_COMPLAINTS = [
    (
        "Weekly market digest",
        "This week: EURUSD outlook, gold at 1403.50, webinar on 3 July.\nUnsubscribe here.",
    ),
    (
        "Invoice INV-2019-0042",
        "Please find attached invoice 20190042 for office supplies. Amount due: USD 350.00.",
    ),
    ("会议邀请", "下周三下午三点开会，请准时参加。地点：3楼会议室。"),
    ("Lunch on Friday?", "Hi team, shall we have lunch on Friday at 12:30?"),
    ("系統通知", "您的密碼將於7天後到期，請盡快修改。"),
]


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


def numbers(count: int, start: int) -> list[str]:
    return [str(start + RNG.randrange(1, 900_000)) for _ in range(count)]


def encode(
    text: str, subject: str, sender: str, language: str, style: str, index: int, extra_headers: str = ""
) -> bytes:
    """One message as a client's mail program would send it."""
    if language == "zh-Hans":
        charset = RNG.choice(["gb2312", "gbk", "utf-8", "gb18030"])
    elif language == "zh-Hant":
        charset = RNG.choice(["big5", "utf-8", "big5"])
    else:
        charset = RNG.choice(["utf-8", "us-ascii"]) if text.isascii() else "utf-8"
    codec = {
        "gb2312": "gbk",
        "gbk": "gbk",
        "gb18030": "gb18030",
        "big5": "big5",
        "utf-8": "utf-8",
        "us-ascii": "ascii",
    }[charset]
    try:
        text.encode(codec)
        subject.encode(codec)
    except UnicodeEncodeError:
        charset, codec = "utf-8", "utf-8"
    header_charset = "gbk" if charset == "gb2312" else codec
    encoded_subject = Header(subject, header_charset).encode().replace("=?gbk?", f"=?{charset}?")
    head = (
        f"From: {sender}\r\nTo: complaint@broker.example\r\nSubject: {encoded_subject}\r\n"
        f"Date: Thu, 27 Jun 2019 {9 + index % 12:02d}:{index % 60:02d}:00 +0800\r\n"
        f"Message-ID: <corpus-{index}@mail.example>\r\nMIME-Version: 1.0\r\n{extra_headers}"
    )
    if style == "outlook-html":
        html = (
            "<html><body>"
            + "".join(f"<p>{line}</p>" for line in text.splitlines() if line)
            + "</body></html>"
        )
        body = quopri.encodestring(html.encode(codec))
        return (
            head + f'Content-Type: text/html; charset="{charset}"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\nX-Mailer: Microsoft Outlook 16.0\r\n\r\n"
        ).encode() + body
    if codec == "ascii":
        return (head + "Content-Type: text/plain; charset=us-ascii\r\n\r\n").encode() + text.encode()
    mailer = {
        "qq": "X-Mailer: QQMail 2.x\r\n",
        "foxmail": "X-Mailer: Foxmail 7.2.13.365[cn]\r\n",
        "phone": "X-Mailer: iPhone Mail (16F203)\r\n",
    }.get(style, "")
    return (
        head + mailer + f'Content-Type: text/plain; charset="{charset}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + base64.encodebytes(text.encode(codec))


def quoted_offer(language: str) -> str:
    """The bot's own earlier reply, quoted under the client's text, with numbers of its own."""
    if language == "en":
        return (
            "\n\nOn Thu, 27 Jun 2019 at 10:00, Client Services <complaint@broker.example> wrote:\n"
            "> Order 99990000 (buy 1.00 lots EURUSD): 316.00 USD\n> account 12121212\n"
        )
    if language == "zh-Hant":
        marker = RNG.choice(
            [
                "寄件者: Client Services <complaint@broker.example>",
                "於 2019年6月27日 10:00，Client Services <complaint@broker.example> 寫道：",
            ]
        )
        return f"\n\n{marker}\n訂單 99990000：316.00 USD\n交易帳號 12121212\n"
    marker = RNG.choice(
        [
            "------------------ 原始邮件 ------------------\n"
            '发件人: "Client Services"<complaint@broker.example>;',
            "在 2019年6月27日 10:00，Client Services <complaint@broker.example> 写道：",
            "发件人：Client Services\n发送时间：2019年6月27日 10:00",
        ]
    )
    return f"\n\n{marker}\n订单 99990000：316.00 USD\n交易账号 12121212\n"


def complaint(index: int, language: str) -> tuple[bytes, dict[str, object]]:
    account = str(80_000_000 + RNG.randrange(1, 9_000_000))
    count = RNG.choice([1, 1, 2, 2, 3])
    orders = numbers(count, 50_000_000)
    use_range = count >= 2 and RNG.random() < 0.15
    if use_range:
        first = int(orders[0])
        orders = [str(first + k) for k in range(count)]
    request = RNG.choice(["best_price", "restore", "unspecified"])
    style = RNG.choice(["plain", "plain", "qq", "foxmail", "outlook-html", "phone", "gmail"])
    if language == "en":
        name = RNG.choice(EN_NAMES)
        listing = f"{orders[0]}-{orders[-1][-2:]}" if use_range else RNG.choice(EN_SEPARATORS).join(orders)
        parts = [
            RNG.choice(["Hello,", "Dear Sir/Madam,", "Hi support,"]),
            RNG.choice([f"My name is {name}.", f"Name: {name}", f"This is {name} writing."]),
            RNG.choice(EN_ACCOUNT).format(a=account).capitalize() + ".",
            "During the outage on 26 June "
            + RNG.choice(EN_ORDERS).format(o=listing)
            + " were opened at abnormal prices.",
            RNG.choice(DISTRACTORS_EN),
            RNG.choice(EN_REQUEST[request]),
            "Regards,",
            name.split()[0],
        ]
        expected_name = name
        subject = RNG.choice(
            [
                "Complaint about the outage",
                "Compensation request",
                "URGENT: frozen account",
                f"Claim for account {account}",
            ]
        )
        sender_name = name
    else:
        hans = language == "zh-Hans"
        name = RNG.choice(HANS_NAMES if hans else HANT_NAMES)
        seps = ZH_SEPARATORS
        listing = f"{orders[0]}-{orders[-1][-2:]}" if use_range else RNG.choice(seps).join(orders)
        account_text = RNG.choice(HANS_ACCOUNT if hans else HANT_ACCOUNT).format(a=account)
        order_text = RNG.choice(HANS_ORDERS if hans else HANT_ORDERS).format(o=listing)
        if RNG.random() < 0.25:
            account_text, order_text = fullwidth(account_text), fullwidth(order_text)
        intro = RNG.choice([f"我是{name}，", f"本人{name}，", f"姓名：{name}\n"])
        greeting = RNG.choice(["您好：", "客服你好，", "你們好，" if not hans else "你们好，"])
        story = "6月26日报价服务器故障期间，" if hans else "6月26日報價伺服器故障期間，"
        parts = [
            greeting,
            intro + account_text + "，" + order_text + "。",
            story + ("订单以异常价格成交。" if hans else "訂單以異常價格成交。"),
            RNG.choice(DISTRACTORS_ZH),
            RNG.choice((HANS_REQUEST if hans else HANT_REQUEST)[request]),
            name,
        ]
        expected_name = name
        subject = RNG.choice(
            [
                "投诉" if hans else "投訴",
                "赔偿申请" if hans else "賠償申請",
                "报价故障" if hans else "報價故障",
            ]
        )
        sender_name = name
    text = "\n".join(parts)
    if style in ("qq", "foxmail", "gmail"):
        text += quoted_offer(language)
    if style == "phone":
        text += "\n\nSent from my iPhone" if language == "en" else "\n\n发自我的iPhone"
    sender = f"{Header(sender_name, 'utf-8').encode()} <client{index}@mail.example>"
    raw = encode(text, subject, sender, language, style, index)
    return raw, {
        "language": language,
        "name": expected_name,
        "accounts": [account],
        "orders": orders,
        "request": request,
        "consent": None,
        "kind": "complaint",
        "style": style,
    }


def followup(index: int, language: str) -> tuple[bytes, dict[str, object]]:
    answer = RNG.choice(["best_price", "restore", "refused", None])
    bank = {"en": EN_CONSENT, "zh-Hans": HANS_CONSENT, "zh-Hant": HANT_CONSENT}[language]
    text = RNG.choice(bank[answer]) + quoted_offer(language)
    subject = f"Re: Your compensation claim CLM-2026-{index:06d}"
    raw = encode(
        text,
        subject,
        f"client{index}@mail.example",
        language,
        "plain",
        index,
        extra_headers=f"In-Reply-To: <reply-{index}@claims.broker.example>\r\n",
    )
    expected_language = "en" if language == "en" else language
    if len([c for c in text.split("\n\n")[0] if "\u4e00" <= c <= "\u9fff"]) < 2:
        expected_language = "en"
    return raw, {
        "language": expected_language,
        "name": None,
        "accounts": [],
        "orders": [],
        "request": None,
        "consent": answer,
        "kind": "followup",
        "style": "plain",
    }


def not_complaint(index: int) -> tuple[bytes, dict[str, object]]:
    subject, text = RNG.choice(NOT_COMPLAINTS)
    language = "en" if text.isascii() else ("zh-Hant" if "系統" in subject else "zh-Hans")
    raw = encode(text, subject, f"sender{index}@other.example", language, "plain", index)
    return raw, {
        "language": language,
        "name": None,
        "accounts": [],
        "orders": [],
        "request": None,
        "consent": None,
        "kind": "not_complaint",
        "style": "plain",
    }


def main() -> None:
    folder = HERE / "mail"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.eml"):
        old.unlink()
    labels: dict[str, dict[str, object]] = {}
    plan = (
        [("complaint", "en")] * 60
        + [("complaint", "zh-Hans")] * 55
        + [("complaint", "zh-Hant")] * 45
        + [("followup", "en")] * 20
        + [("followup", "zh-Hans")] * 15
        + [("followup", "zh-Hant")] * 10
        + [("not_complaint", "")] * 15
    )
    for index, (kind, language) in enumerate(plan, start=1):
        if kind == "complaint":
            raw, label = complaint(index, language)
        elif kind == "followup":
            raw, label = followup(index, language)
        else:
            raw, label = not_complaint(index)
        name = f"{index:03d}-{kind}-{label['language']}-{label['style']}.eml"
        (folder / name).write_bytes(raw)
        labels[name] = label
    (HERE / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1, sort_keys=True))
    print(f"wrote {len(labels)} messages to {folder}")


if __name__ == "__main__":
    main()
