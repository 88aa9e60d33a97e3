"""The approval page and its people: ``serve`` and ``users`` (``add``, ``unlock``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.cli.common import CONFIG_HELP, NEW_PASSWORD_VARIABLE, Command, fail, settings_of
from bot.storage import database, schema
from bot.storage.database import StoreError


def register(command: Command) -> None:
    web = command("serve", "serve the staff approval page (put it behind TLS)", _serve)
    web.add_argument("--host", help="address to listen on (default: [web] host)")
    web.add_argument("--port", type=int, help="port to listen on (default: [web] port; 0: any free port)")
    users = command("users", "manage the staff who log in to the approval page", _users, config=False)
    user_actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add_user = user_actions.add_parser(
        "add", help=f"add a person; the password is asked twice, or read from {NEW_PASSWORD_VARIABLE}"
    )
    add_user.add_argument("--config", type=Path, help=CONFIG_HELP)
    add_user.add_argument("name", metavar="NAME")
    add_user.add_argument("--role", required=True, help="agent, supervisor or manager")
    unlock = user_actions.add_parser(
        "unlock", help="lift the lock repeated failed logins put on a name, and forget its failures"
    )
    unlock.add_argument("--config", type=Path, help=CONFIG_HELP)
    unlock.add_argument("name", metavar="NAME")


def _serve(args: argparse.Namespace) -> int:
    from bot.stages.draft import check_templates
    from bot.web import serve

    settings = settings_of(args)
    engine = schema.open_engine(settings)
    check_templates(settings.templates_dir)
    host = args.host or settings.web.host
    port = settings.web.port if args.port is None else args.port
    if not 0 <= port <= 65535:
        print(f"claimsbot: error: --port {port} is not a TCP port (0 to 65535)", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        print(f"approval page at {url} (Ctrl-C stops it)", flush=True)

    try:
        serve(settings, engine, host, port, ready=ready)
    except OSError as exc:
        print(f"claimsbot: error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _users(args: argparse.Namespace) -> int:
    return _users_unlock(args) if args.users_command == "unlock" else _users_add(args)


def _users_unlock(args: argparse.Namespace) -> int:
    """Lift a login lock from the server's shell, for when no manager can log in to do it."""
    import getpass
    import logging

    from bot.storage import access

    name = args.name.strip()
    try:
        engine = schema.open_engine(settings_of(args), create=False)
        with database.session_scope(engine) as session:
            lifted = access.unlock(session, name, by=f"command line ({getpass.getuser()})")
    except StoreError as exc:
        return fail(str(exc))
    if not lifted:
        return fail(f"{name!r} is not locked and has no failed logins to forget")
    logging.getLogger(__name__).warning("the login of %r was unlocked from the command line", name)
    print(f"unlocked {name}")
    return 0


def _users_add(args: argparse.Namespace) -> int:
    """Add a person who may log in; every problem is one line and exit code 2."""
    from bot.claims import approval

    if not args.name.strip():
        return fail("the name is empty")
    if args.role not in approval.ROLES:
        return fail(f"unknown role {args.role!r}; roles are: {', '.join(approval.ROLES)}")
    password = os.environ.get(NEW_PASSWORD_VARIABLE, "")
    if not password:
        import getpass

        try:
            password = getpass.getpass(f"password for {args.name}: ")
            again = getpass.getpass("the same password again: ")
        except EOFError:
            return fail(f"no password given (type it, or set {NEW_PASSWORD_VARIABLE})")
        if password != again:
            return fail("the two passwords differ; nothing was changed")
    try:
        engine = schema.open_engine(settings_of(args), create=False)
        with database.session_scope(engine) as session:
            user = approval.add_user(session, name=args.name.strip(), role=args.role, password=password)
    except (ValueError, StoreError) as exc:
        return fail(str(exc))
    print(f"added {user.name} ({user.role})")
    return 0
