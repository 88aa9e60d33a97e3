"""A client writing about several of their accounts in one email gets one claim for all of them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.cli import main
from bot.config import Settings
from bot.demo.run import deliver
from bot.mail.cycle import run_cycle
from bot.storage import database, store
from bot.storage.tables import Claim
from tests.conftest import open_second_account
from tests.mail.test_cycle import write_config
from tests.messages import eml

TWO_ACCOUNTS = "outlook-table-two-accounts.eml"


def test_two_accounts_in_an_outlook_table_make_one_claim_with_both_accounts_orders(
    settings: Settings, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    open_second_account(engine)
    deliver(settings, [(TWO_ACCOUNTS, eml(TWO_ACCOUNTS))])
    report = run_cycle(settings, engine)
    assert report.fetched == 1
    with database.session_scope(engine) as session:
        (claim,) = session.exec(select(Claim)).all()
        rows = {r.ticket: (r.login, r.outcome) for r in store.claim_orders(session, claim_id=claim.id or 0)}
        kinds = sorted(r.kind for r in store.replies(session) if r.claim_id == claim.id)
        offer = next(r for r in store.replies(session) if r.kind == "offer")
        letter = " ".join(offer.body_text.split())
    assert rows == {
        "55667788": ("81234567", "eligible"),
        "55667789": ("81234567", "eligible"),
        "55669901": ("81234599", "eligible"),
    }
    assert kinds == ["acknowledgement", "offer"]
    assert "81234567, 81234599" in letter and "(account 81234599)" in letter

    config = write_config(settings, settings.data_dir / "claimsbot.toml")
    assert main(["claims", "--json", "--config", str(config)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    listed = json.loads(line)
    assert listed["account"] == "81234567" and listed["accounts"] == ["81234567", "81234599"]
    assert {o["ticket"]: o["account"] for o in listed["orders"]}["55669901"] == "81234599"
