"""The approval page through HTTP (Starlette's test client), on a database the real pipeline filled."""

from __future__ import annotations

import base64
import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta

import itsdangerous
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine
from starlette.testclient import TestClient

from bot.config import Settings
from bot.storage import access, database, store
from bot.storage.tables import Claim, Reply, ReplyStatus, utcnow
from bot.web import create_app
from bot.web.guard import SESSION_COOKIE
from tests import ROOT
from tests.messages import eml
from tests.web.conftest import PASSWORD, Desk, csrf_of

Client = Callable[..., TestClient]


def post(client: TestClient, path: str, page: str, **fields: str | list[str]) -> object:
    """Submit a form as the browser would: with the CSRF token of the page it is on."""
    return client.post(path, data={"csrf": csrf_of(client.get(page).text), **fields})


def rows_of(page: str) -> list[tuple[int, str]]:
    return [(int(i), kind) for i, kind in re.findall(r'<tr data-reply="(\d+)" data-kind="([\w_]+)"', page)]


def test_every_page_but_login_and_healthz_needs_a_login(app_for: Client, desk: Desk) -> None:
    client = app_for()
    offer = desk.reply_id("offer")
    for path in ("/", f"/replies/{offer}", "/claims/1", "/?kind=offer"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    assert client.get("/login").status_code == 200
    answer = client.get("/healthz").json()
    assert (answer["status"], answer["database"]) == ("ok", "ok")
    assert answer["worker"]["healthy"] is False and "why" not in answer["worker"], "no reason to strangers"


def test_a_login_returns_to_the_page_asked_for_but_never_to_another_site(app_for: Client, desk: Desk) -> None:
    client = app_for()
    token = csrf_of(client.get("/login").text)
    offer = desk.reply_id("offer")
    back = client.post(
        "/login", data={"csrf": token, "name": "sam", "password": PASSWORD, "next": f"/replies/{offer}"}
    )
    assert back.headers["location"] == f"/replies/{offer}"
    for elsewhere in ("//evil.example/", "/\t/evil.example/", "/\\evil.example", "https://evil.example/"):
        other = app_for()
        token = csrf_of(other.get("/login").text)
        away = other.post(
            "/login", data={"csrf": token, "name": "sam", "password": PASSWORD, "next": elsewhere}
        )
        assert away.headers["location"] == "/", elsewhere


def test_wrong_password_or_unknown_name_is_refused(app_for: Client) -> None:
    client = app_for()
    for name, password in (("sam", "not the password"), ("nobody", PASSWORD)):
        token = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"csrf": token, "name": name, "password": password})
        assert response.status_code == 401
        assert "Wrong name or password" in response.text
        assert client.get("/").status_code == 303


def test_logout_ends_the_session(app_for: Client) -> None:
    client = app_for("sam")
    assert client.get("/").status_code == 200
    assert post(client, "/logout", "/").status_code == 303
    assert client.get("/").status_code == 303


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(app_for: Client, desk: Desk) -> None:
    client = app_for("sam")
    offer = desk.reply_id("offer")
    for data in ({"text": "changed"}, {"text": "changed", "csrf": "forged"}):
        response = client.post(f"/replies/{offer}/approve", data=data)
        assert response.status_code == 403
        assert "security token" in response.text and "Nothing was changed" in response.text
    reply = desk.reply(offer)
    assert reply.status == ReplyStatus.DRAFT and "changed" not in reply.body_text
    login = app_for().post("/login", data={"name": "sam", "password": PASSWORD})
    assert login.status_code == 403


def test_an_agent_cannot_approve_an_offer_but_can_approve_an_acknowledgement(
    app_for: Client, desk: Desk
) -> None:
    client = app_for("ann")
    offer, acknowledgement = desk.reply_id("offer"), desk.reply_id("acknowledgement")
    page = client.get(f"/replies/{offer}").text
    assert "Your role (agent) cannot approve this reply" in page

    refused = post(client, f"/replies/{offer}/approve", f"/replies/{offer}", text="edited by an agent")
    assert refused.status_code == 403
    assert "needs a supervisor or manager; ann is agent" in refused.text
    assert desk.reply(offer).status == ReplyStatus.DRAFT
    assert "edited by an agent" not in desk.reply(offer).body_text

    approved = post(client, f"/replies/{acknowledgement}/approve", f"/replies/{acknowledgement}")
    assert approved.status_code == 303
    assert desk.reply(acknowledgement).status == ReplyStatus.APPROVED
    assert desk.reply(acknowledgement).decided_by == "ann"
    assert f"Reply {acknowledgement} approved" in client.get("/").text


def test_a_supervisor_approves_an_offer_with_an_edit(app_for: Client, desk: Desk) -> None:
    client = app_for("sam")
    offer = desk.reply_id("offer")
    text = desk.reply(offer).body_text.replace("Kind regards", "Warm regards").replace("\n", "\r\n")

    assert post(client, f"/replies/{offer}/approve", f"/replies/{offer}", text=text).status_code == 303

    reply = desk.reply(offer)
    assert reply.status == ReplyStatus.APPROVED and reply.decided_by == "sam" and reply.edited_by == "sam"
    assert "Warm regards" in reply.body_text and "Warm regards" in reply.body_html
    assert "\r" not in reply.body_text
    history = client.get(f"/claims/{reply.claim_id}").text
    assert "reply_edited" in history and "reply_approved" in history


def test_a_large_offer_needs_a_second_approval_by_another_manager(app_for: Client, desk: Desk) -> None:
    offer = desk.reply_id("offer", "zh-Hans")
    assert desk.reply(offer).amount is not None and desk.reply(offer).amount > 1000  # type: ignore[operator]
    mia, sam, max_ = app_for("mia"), app_for("sam"), app_for("max")
    page = f"/replies/{offer}"

    assert post(mia, f"{page}/approve", page).status_code == 303
    assert desk.reply(offer).status == ReplyStatus.SECOND_APPROVAL
    assert "second approval" in mia.get("/?kind=offer&view=all").text
    assert f'data-reply="{offer}"' not in mia.get("/?kind=offer").text, "not waiting for the first approver"
    assert f'data-reply="{offer}"' in max_.get("/?kind=offer").text

    again = post(mia, f"{page}/approve", page)
    assert again.status_code == 403 and "must come from another person" in again.text
    supervisor = post(sam, f"{page}/approve", page)
    assert supervisor.status_code == 403 and "needs a manager" in supervisor.text
    assert desk.reply(offer).status == ReplyStatus.SECOND_APPROVAL

    assert post(max_, f"{page}/approve", page).status_code == 303
    reply = desk.reply(offer)
    assert (reply.status, reply.first_approved_by, reply.decided_by) == (ReplyStatus.APPROVED, "mia", "max")


def test_reject_needs_a_reason(app_for: Client, desk: Desk) -> None:
    client = app_for("ann")
    offer = desk.reply_id("offer")
    page = f"/replies/{offer}"

    refused = post(client, f"{page}/reject", page, reason="  ")
    assert refused.status_code == 403 and "say why the draft is rejected" in refused.text
    assert desk.reply(offer).status == ReplyStatus.DRAFT

    assert post(client, f"{page}/reject", page, reason="wrong account quoted").status_code == 303
    reply = desk.reply(offer)
    assert (reply.status, reply.note, reply.decided_by) == (
        ReplyStatus.REJECTED,
        "wrong account quoted",
        "ann",
    )
    assert post(client, f"{page}/approve", page).status_code == 403


def test_escalating_from_a_reply_moves_its_claim(app_for: Client, desk: Desk) -> None:
    client = app_for("ann")
    offer = desk.reply_id("offer")
    claim_id = desk.reply(offer).claim_id

    response = post(client, f"/replies/{offer}/escalate", f"/replies/{offer}", reason="client phoned")
    assert response.status_code == 303 and response.headers["location"] == f"/replies/{offer}"
    assert desk.claim(claim_id).status == "escalated"
    assert "client phoned" in client.get(f"/claims/{claim_id}").text


def test_the_queue_filters_by_kind_language_and_amount(app_for: Client) -> None:
    client = app_for("sam")
    everything = rows_of(client.get("/").text)
    assert [i for i, _ in everything] == sorted(i for i, _ in everything), "oldest first"
    assert {kind for _, kind in everything} == {"acknowledgement", "offer", "unverified_sender"}

    offers = rows_of(client.get("/?kind=offer").text)
    assert len(offers) == 3 and {kind for _, kind in offers} == {"offer"}
    traditional = client.get("/?language=zh-Hant").text
    assert len(rows_of(traditional)) == 2 and "chantaiman@example.hk" in traditional
    assert "alice.chen@example.com" not in traditional
    large = client.get("/?min_amount=1000").text
    assert len(rows_of(large)) == 1 and "1,739.00 USD" in large

    nonsense = client.get("/?min_amount=lots")
    assert nonsense.status_code == 200 and "is not a number; it was ignored" in nonsense.text
    assert len(rows_of(nonsense.text)) == len(everything)


def test_bulk_approval_takes_acknowledgements_only(app_for: Client, desk: Desk) -> None:
    client = app_for("ann")
    acknowledgements = [desk.reply_id("acknowledgement", lang) for lang in ("en", "zh-Hans")]
    offer = desk.reply_id("offer")

    mixed = post(client, "/bulk-approve", "/", reply=[str(acknowledgements[0]), str(offer)])
    assert mixed.status_code == 303
    told = client.get("/").text
    assert "1 acknowledgement approved." in told and f"#{offer}: not an acknowledgement" in told
    assert desk.reply(acknowledgements[0]).status == ReplyStatus.APPROVED
    assert desk.reply(offer).status == ReplyStatus.DRAFT, "a refusal changes nothing"

    assert post(client, "/bulk-approve", "/", reply=[str(acknowledgements[1])]).status_code == 303
    assert desk.reply(acknowledgements[1]).status == ReplyStatus.APPROVED
    assert "1 acknowledgement approved" in client.get("/").text


def test_the_reply_page_shows_the_email_with_the_numbers_marked_and_the_computation(
    app_for: Client, desk: Desk
) -> None:
    client = app_for("ann")
    page = client.get(f"/replies/{desk.reply_id('offer')}").text

    assert re.search(r'<mark class="account" title="[^"]*">81234567</mark>', page)
    assert re.search(r'<mark class="order" title="[^"]*">55667788</mark>', page)
    assert "My name is Alice Chen" in page
    assert "difference 316.00 USD" in page and "316.00 USD" in page
    assert '<iframe class="preview"' in page and "sandbox" in page and 'srcdoc="&lt;!DOCTYPE html&gt;' in page
    assert "CLM-" in page and "verified" in page


def test_client_text_is_escaped_in_the_email_and_in_the_draft(app_for: Client, desk: Desk) -> None:
    hostile = (
        eml("en-alice-best-price.eml")
        .replace(b"Message-ID: <", b"Message-ID: <hostile.")
        .replace(b"Thanks,", b'<script>alert("email")</script> <img src=x onerror=alert(1)>\nThanks,')
    )
    desk.ingest(hostile, uid=100)
    client = app_for("mia")
    offer = desk.reply_id("offer", "zh-Hans")
    edited = desk.reply(offer).body_text + '\n<script>alert("draft")</script>\n'
    assert post(client, f"/replies/{offer}/approve", f"/replies/{offer}", text=edited).status_code == 303

    with database.session_scope(desk.engine) as session:
        claims = store.claims(session)
    hostile_claim = claims[-1]
    pages = [client.get(f"/claims/{hostile_claim.id}").text, client.get(f"/replies/{offer}").text]
    for page in pages:
        assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;email&#34;)&lt;/script&gt;" in pages[0]
    assert "&lt;script&gt;alert(&#34;draft&#34;)&lt;/script&gt;" in pages[1]
    # In the preview the edit is escaped twice: once as HTML text, once as the srcdoc attribute.
    assert "&amp;lt;script&amp;gt;" in pages[1]


def test_claim_actions_follow_the_roles_and_the_lifecycle(app_for: Client, desk: Desk) -> None:
    claim_id = desk.reply(desk.reply_id("offer")).claim_id
    page = f"/claims/{claim_id}"
    ann, sam, mia = app_for("ann"), app_for("sam"), app_for("mia")
    assert "Reject claim" not in ann.get(page).text and "Settle" not in sam.get(page).text

    agent = post(ann, f"{page}/reject", page, reason="out of window", confirm="yes")
    assert agent.status_code == 403 and "only a supervisor or above may reject a claim" in agent.text
    early = post(mia, f"{page}/settle", page, note="paid", confirm="yes")
    assert early.status_code == 403 and "cannot go from assessed to settled" in early.text
    assert desk.claim(claim_id).status == "assessed"

    unconfirmed = post(sam, f"{page}/reject", page, reason="Orders opened before the outage.")
    assert unconfirmed.status_code == 403 and "confirmation box" in unconfirmed.text
    assert desk.claim(claim_id).status == "assessed"
    rejected = post(sam, f"{page}/reject", page, reason="Orders opened before the outage.", confirm="yes")
    assert rejected.status_code == 303
    assert desk.claim(claim_id).status == "rejected"
    closed = sam.get(page).text
    assert "drafted as reply" in closed
    for action in ("/escalate", "/reject", "/settle", "/final-response"):
        assert f'action="{page}{action}"' not in closed, f"a rejected claim offers {action}"
    assert "None: the claim is rejected." in closed
    letter = desk.reply_id("rejected")
    assert "Orders opened before the outage." in desk.reply(letter).body_text


def test_unknown_ids_are_404_and_errors_never_show_a_traceback(app_for: Client) -> None:
    client = app_for("sam")
    for path in ("/replies/9999", "/claims/9999", "/replies/99999999999", "/nowhere"):
        response = client.get(path)
        assert response.status_code == 404 and "Not found" in response.text
    missing = post(client, "/replies/9999/approve", "/")
    assert missing.status_code == 404 and "Traceback" not in missing.text


def test_healthz_says_when_the_database_does_not_answer(desk: Desk) -> None:
    broken = create_engine("sqlite:////nonexistent-directory/claimsbot.db")
    client = TestClient(create_app(desk.settings, broken))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}


def test_pages_are_not_cached_or_framed_and_run_only_the_sites_own_script_file(app_for: Client) -> None:
    response = app_for("sam").get("/")
    policy = dict(
        part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'", "no inline script"
    assert re.findall(r"<script[^>]*>", response.text) == ['<script src="/static/keys.js" defer>']
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers.get("set-cookie", "") or app_for().get("/login").headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()


def signed_session(secret: str, values: dict[str, object]) -> str:
    """A session cookie as Starlette's SessionMiddleware writes it, signed with ``secret``."""
    data = base64.b64encode(json.dumps(values).encode())
    return itsdangerous.TimestampSigner(secret).sign(data).decode()


def https_client(settings: Settings, engine: Engine) -> TestClient:
    """A client of the app as browsers reach it in production, over HTTPS: the cookie is Secure."""
    return TestClient(create_app(settings, engine), base_url="https://testserver", follow_redirects=False)


def session_opened(desk: Desk, name: str, seconds_ago: float) -> str:
    """The id of a session ``name`` opened ``seconds_ago``, as a login then would have made it."""
    with database.session_scope(desk.engine) as session:
        return access.open_session(session, user=name, now=utcnow() - timedelta(seconds=seconds_ago))


def test_a_login_lasts_session_hours_from_the_login_and_survives_a_restart_with_a_secret(
    desk: Desk,
) -> None:
    secret = "s" * 40
    settings = desk.settings.model_copy(update={"web_secret": SecretStr(secret)})
    first = https_client(settings, desk.engine)
    token = csrf_of(first.get("/login").text)
    first.post("/login", data={"csrf": token, "name": "sam", "password": PASSWORD})
    cookie = first.cookies[SESSION_COOKIE]

    restarted = https_client(settings, desk.engine)
    restarted.cookies.set(SESSION_COOKIE, cookie)
    assert restarted.get("/").status_code == 200
    other_secret = settings.model_copy(update={"web_secret": SecretStr("t" * 40)})
    stranger = https_client(other_secret, desk.engine)
    stranger.cookies.set(SESSION_COOKIE, cookie)
    assert stranger.get("/").status_code == 303

    hours = settings.web.session_hours
    for age, status in ((hours * 3600 - 60, 200), (hours * 3600 + 60, 303)):
        client = https_client(settings, desk.engine)
        values = {"sid": session_opened(desk, "sam", age), "user": "sam", "csrf": "t"}
        client.cookies.set(SESSION_COOKIE, signed_session(secret, values))
        assert client.get("/").status_code == status


def test_without_a_web_secret_each_process_makes_one_and_warns_once_without_showing_it(desk: Desk) -> None:
    script = (
        "import logging, sys\n"
        "from bot.storage import schema\n"
        "from bot.config import settings_from_mapping\n"
        "from bot.web import create_app\n"
        "from bot.web.guard import session_secret\n"
        "logging.basicConfig()\n"
        "settings = settings_from_mapping({'data_dir': sys.argv[1]}, source='test')\n"
        "engine = schema.open_engine(settings)\n"
        "create_app(settings, engine)\n"
        "create_app(settings, engine)\n"
        "print(session_secret(settings))\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, str(desk.settings.data_dir)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        for _ in range(2)
    ]
    secrets = [run.stdout.strip() for run in runs]
    assert len(secrets[0]) >= 32 and secrets[0] != secrets[1]
    for run, secret in zip(runs, secrets, strict=True):
        assert run.returncode == 0, run.stderr
        assert run.stderr.count("web_secret is not set") == 1
        assert secret not in run.stderr


def test_deadlines_show_in_the_queue_and_on_the_claim_and_overdue_ones_are_flagged(
    app_for: Client, desk: Desk
) -> None:
    offer = desk.reply(desk.reply_id("offer"))
    with database.session_scope(desk.engine) as session:
        claim = session.get(Claim, offer.claim_id)
        assert claim is not None
        claim.created_at = utcnow() - timedelta(days=40)
    client = app_for("sam")
    queue = client.get("/").text
    row = re.search(rf'<tr data-reply="{offer.id}".*?</tr>', queue, re.S)
    assert row is not None
    assert 'data-deadline="acknowledge"' in row.group(0) and 'data-deadline="answer"' in row.group(0)
    assert 'data-standing="overdue"' in row.group(0)
    fresh = re.search(rf'<tr data-reply="{desk.reply_id("offer", "zh-Hans")}".*?</tr>', queue, re.S)
    assert fresh is not None and 'data-deadline="answer" data-standing="ok"' in fresh.group(0)
    page = client.get(f"/claims/{offer.claim_id}").text
    assert 'data-deadline="answer" data-standing="overdue"' in page


def test_the_page_shows_what_the_pipeline_read_and_never_reads_the_message_again(
    app_for: Client, desk: Desk
) -> None:
    reply_id = desk.reply_id("offer")
    stored = [{"number": "81234567", "kind": "account", "evidence": "kept by the pipeline"}]
    with database.session_scope(desk.engine) as session:
        reply = session.get(Reply, reply_id)
        assert reply is not None
        for message in store.claim_messages(session, claim_id=reply.claim_id):
            assert json.loads(message.evidence), "the pipeline keeps what it read"
            message.evidence = json.dumps(stored)
    page = app_for("ann").get(f"/replies/{reply_id}").text
    assert '<mark class="account" title="account: kept by the pipeline">81234567</mark>' in page
    assert '<mark class="order"' not in page, "nothing was extracted again"


def test_an_agents_waiting_for_me_holds_no_offers_and_all_waiting_does(app_for: Client, desk: Desk) -> None:
    ann = app_for("ann")
    mine, everything = ann.get("/").text, ann.get("/?view=all").text
    assert 'data-kind="offer"' not in mine and 'data-kind="acknowledgement"' in mine
    assert 'data-kind="offer"' in everything
    assert "you may decide on" in mine


def test_every_request_is_logged_as_one_line_without_its_query(
    app_for: Client, caplog: pytest.LogCaptureFixture
) -> None:
    sam = app_for("sam")
    with caplog.at_level(logging.INFO, logger="claimsbot.web.requests"):
        sam.get("/search?q=alice.chen@example.com")
        sam.get("/claims/999999")
    lines = [r.getMessage() for r in caplog.records if r.name == "claimsbot.web.requests"]
    assert re.fullmatch(r"GET /search 303 \d+ ms", lines[0]) and re.fullmatch(
        r"GET /claims/999999 404 \d+ ms", lines[1]
    )
    assert not any("alice" in line for line in lines)
