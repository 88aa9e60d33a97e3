"""One complaint from first email to settlement, against Dovecot and the SMTP sink, with every
reply approved by people through the served approval page (over HTTP, as a browser would)."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.claims import approval, staff
from bot.claims.lifecycle import State
from bot.config import Settings
from bot.demo.run import deliver
from bot.demo.smtp_sink import SmtpSink
from bot.mail.cycle import run_cycle
from bot.storage import database, store
from bot.storage.tables import Claim, ClaimEvent, Reply, ReplyStatus
from bot.web.server import start_in_thread, stop
from tests.messages import eml

PASSWORD = "correct horse battery"


@pytest.fixture
def page(settings: Settings, engine: Engine) -> Iterator[str]:
    with database.session_scope(engine) as session:
        for name, role in (("sam", "supervisor"), ("meg", "manager")):
            staff.add_user(session, name=name, role=role, password=PASSWORD)
    server, thread, url = start_in_thread(settings, engine, secure=False)  # plain http on 127.0.0.1
    yield url
    stop(server, thread)


def person(url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    token = _csrf(client.get("/login").text)
    answer = client.post("/login", data={"csrf": token, "name": name, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def act(client: httpx.Client, page: str, action: str, **fields: str) -> None:
    answer = client.post(action, data={"csrf": _csrf(client.get(page).text), **fields})
    assert answer.status_code == 303, answer.text


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "every form carries a CSRF token"
    return found.group(1)


def waiting(engine: Engine) -> list[Reply]:
    with database.session_scope(engine) as session:
        found = list(approval.queue(session))
        for reply in found:
            session.expunge(reply)
    return found


def approve_in_page(client: httpx.Client, engine: Engine) -> list[str]:
    kinds = []
    for reply in waiting(engine):
        act(client, f"/replies/{reply.id}", f"/replies/{reply.id}/approve", text=reply.body_text)
        kinds.append(reply.kind)
    return kinds


@pytest.mark.parametrize("imap_server", ["dovecot"], indirect=True)
def test_a_complaint_from_email_to_settlement_with_every_reply_approved_in_the_page(
    settings: Settings, engine: Engine, smtp_sink: SmtpSink, page: str
) -> None:
    deliver(settings, [("wang", eml("zh-hans-gbk-under-gb2312-label.eml"))])
    run_cycle(settings, engine)
    supervisor, manager = person(page, "sam"), person(page, "meg")

    assert sorted(approve_in_page(supervisor, engine)) == ["acknowledgement", "offer"]
    run_cycle(settings, engine)
    first = [email.message_from_bytes(d.content, policy=policy.default) for d in smtp_sink.deliveries]
    assert [m["To"] for m in first] == ["wangzhe@example.cn"] * 2
    offer = next(m for m in first if "赔偿方案" in m["Subject"])
    assert "方案 2" in offer.get_body(("plain",)).get_content()

    consent = EmailMessage()
    consent["From"], consent["To"] = "王喆 <wangzhe@example.cn>", settings.smtp.from_address
    consent["Subject"] = f"回复：{offer['Subject']}"
    consent["Message-ID"] = make_msgid(domain="qq.com")
    consent["In-Reply-To"], consent["References"] = offer["Message-ID"], offer["Message-ID"]
    consent.set_content(
        "你好，我同意恢复持仓。\n\n------------------ 原始邮件 ------------------\n> 方案 1 ... 方案 2 ...\n",
        charset="gb18030",
    )
    deliver(settings, [("consent", bytes(consent))])
    run_cycle(settings, engine)
    assert approve_in_page(supervisor, engine) == ["consent_received"]

    with database.session_scope(engine) as session:
        claim = session.exec(select(Claim)).one()
        assert claim.status == "consented"
        chosen = {o.ticket: o.chosen_remedy for o in store.claim_orders(session, claim_id=claim.id or 0)}
    assert chosen == {"66778899": "restore", "66778900": "best_price"}, "one answer settles the claim"

    act(
        manager,
        f"/claims/{claim.id}",
        f"/claims/{claim.id}/settle",
        note="Restored on 5 July.",
        confirm="yes",
    )
    assert approve_in_page(supervisor, engine) == ["settled"]
    run_cycle(settings, engine)

    sent = [email.message_from_bytes(d.content, policy=policy.default) for d in smtp_sink.deliveries]
    assert len(sent) == 4 and len({m["Message-ID"] for m in sent}) == 4
    assert all(claim.reference in m["Subject"] and m["To"] == "wangzhe@example.cn" for m in sent)
    settled = sent[-1].get_body(("plain",)).get_content()
    assert "Restored on 5 July." in settled and "980.00" in settled

    with database.session_scope(engine) as session:
        story = [
            (e.actor, e.to_state or e.event)
            for e in session.exec(
                select(ClaimEvent).where(ClaimEvent.claim_id == claim.id).order_by(ClaimEvent.id)
            )
        ]
        replies = session.exec(select(Reply).order_by(Reply.id)).all()
        final = session.get(Claim, claim.id)
    assert final is not None and final.status == "settled" and final.closed_at is not None
    assert {r.status for r in replies} == {ReplyStatus.SENT}
    moves = [step for step in story if step[1] in set(State)]
    assert moves == [
        ("bot", "received"),
        ("bot", "acknowledged"),
        ("bot", "assessed"),
        ("bot", "offer_sent"),
        ("client", "consented"),
        ("meg", "settled"),
    ]
    assert story.count(("sam", "reply_approved")) == 4
    assert ("client", "remedy_chosen") in story and ("bot", "reply_sent") in story
