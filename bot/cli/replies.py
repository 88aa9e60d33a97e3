"""Replies staff decide on from the shell: ``queue``, ``approve``, ``reject``, ``resolve``."""

from __future__ import annotations

import argparse
import sys

from bot.claims import moves
from bot.cli.common import Command, reply_id, settings_of
from bot.storage import database, schema


def register(command: Command) -> None:
    queue = command("queue", "list replies waiting for approval", _queue)
    queue.add_argument("--all", action="store_true", help="include approved, sent and rejected replies")
    for name, verb in (("approve", "approve"), ("reject", "reject")):
        sub = command(name, f"{verb} a drafted reply", _approve if name == "approve" else _reject)
        sub.add_argument("reply_id", type=reply_id, metavar="ID")
        sub.add_argument(
            "--by",
            required=True,
            metavar="NAME",
            help="the staff user deciding: their role decides what they may approve",
        )
        if name == "reject":
            sub.add_argument("--reason", required=True, help="why (recorded in the claim history)")
    settle = command("resolve", "settle a reply whose sending was interrupted or refused", _resolve)
    settle.add_argument("reply_id", type=reply_id, metavar="ID")
    what = settle.add_mutually_exclusive_group(required=True)
    what.add_argument("--sent", action="store_true", help="it reached the client: mark it sent")
    what.add_argument("--resend", action="store_true", help="it did not: send it at the next cycle")
    settle.add_argument("--by", default="staff", help="who decides (recorded in the claim history)")


def _queue(args: argparse.Namespace) -> int:
    from bot.storage import store
    from bot.storage.tables import ReplyStatus

    engine = schema.open_engine(settings_of(args), create=False)
    statuses = (
        None
        if args.all
        else [ReplyStatus.DRAFT, ReplyStatus.APPROVED, ReplyStatus.UNCERTAIN, ReplyStatus.FAILED]
    )
    with database.session_scope(engine) as session:
        rows = store.replies(session, statuses=statuses)
        if not rows:
            print("no replies waiting for approval")
        for reply in rows:
            print(
                f"{reply.id:>5}  {reply.status:<9} {reply.kind:<18} {reply.language:<8} "
                f"{reply.to_address}  {reply.subject}"
            )
            if reply.failure and reply.status in (
                ReplyStatus.UNCERTAIN,
                ReplyStatus.FAILED,
                ReplyStatus.APPROVED,
            ):
                print(f"       {reply.failure}")
    return 0


def _decide(args: argparse.Namespace, approve: bool) -> int:
    """The same rules as the approval page: the named person's role decides what they may approve."""
    from bot.claims import approval
    from bot.storage import store

    settings = settings_of(args)
    engine = schema.open_engine(settings, create=False)
    try:
        with database.session_scope(engine) as session:
            user = store.staff_user(session, name=args.by)
            if user is None or not user.active:
                print(
                    f"claimsbot: error: no staff user {args.by!r}; add one with claimsbot users add",
                    file=sys.stderr,
                )
                return 2
            if approve:
                reply = approval.approve(session, settings, user, args.reply_id)
            else:
                reply = approval.reject(session, user, args.reply_id, reason=args.reason)
            summary = f"reply {reply.id} {reply.status}: {reply.subject}"
    except approval.NotAllowed as exc:
        print(f"claimsbot: error: {exc}", file=sys.stderr)
        return 1
    print(summary)
    return 0


def _approve(args: argparse.Namespace) -> int:
    return _decide(args, approve=True)


def _reject(args: argparse.Namespace) -> int:
    return _decide(args, approve=False)


def _resolve(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    engine = schema.open_engine(settings, create=False)
    with database.session_scope(engine) as session:
        reply = moves.resolve_reply(
            session,
            reply_id=args.reply_id,
            delivered=args.sent,
            by=args.by,
            consent_days=settings.claims.consent_days,
        )
    if reply is None:
        state = "uncertain, refused or (for --sent) approved" if args.sent else "uncertain or refused"
        print(f"claimsbot: error: reply {args.reply_id} is not {state}", file=sys.stderr)
        return 1
    print(f"reply {reply.id} {reply.status}: {reply.subject}")
    return 0
