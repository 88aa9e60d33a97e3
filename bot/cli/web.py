"""The approval page and its people: ``serve`` and ``users`` (``add``, ``list``, ``disable``,
``enable``, ``reset-password``, ``set-role``, ``unlock``)."""

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
    listing = user_actions.add_parser("list", help="every person, their role, and whether they may log in")
    listing.add_argument("--config", type=Path, help=CONFIG_HELP)
    for action, text in (
        ("disable", "take a person's access away; their open sessions end at once"),
        ("enable", "give a disabled person their access back"),
        (
            "reset-password",
            f"set a new password (asked twice, or read from {NEW_PASSWORD_VARIABLE}); sessions end",
        ),
    ):
        changed = user_actions.add_parser(action, help=text)
        changed.add_argument("--config", type=Path, help=CONFIG_HELP)
        changed.add_argument("name", metavar="NAME")
    set_role = user_actions.add_parser(
        "set-role", help="give a person another role (agent, supervisor, manager)"
    )
    set_role.add_argument("--config", type=Path, help=CONFIG_HELP)
    set_role.add_argument("name", metavar="NAME")
    set_role.add_argument("role", metavar="ROLE")


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
    actions = {
        "add": _users_add,
        "unlock": _users_unlock,
        "list": _users_list,
        "disable": _users_change,
        "enable": _users_change,
        "reset-password": _users_change,
        "set-role": _users_change,
    }
    return actions[args.users_command](args)


def _users_list(args: argparse.Namespace) -> int:
    from bot.claims import staff

    try:
        engine = schema.open_engine(settings_of(args), create=False)
        with database.session_scope(engine) as session:
            people = [(u.name, u.role, u.active, u.created_at) for u in staff.users(session)]
    except StoreError as exc:
        return fail(str(exc))
    if not people:
        print("no users (add one with: claimsbot users add NAME --role ROLE)")
    for name, role, active, created in people:
        print(f"{name:<24} {role:<10} {'enabled' if active else 'disabled':<8}  added {created:%Y-%m-%d}")
    return 0


def _users_change(args: argparse.Namespace) -> int:
    """Disable, enable, reset a password or set a role; recorded with the shell user's name."""
    import getpass

    from bot.claims import staff

    name, by = args.name.strip(), f"command line ({getpass.getuser()})"
    password = ""
    if args.users_command == "reset-password":
        password = _new_password(name)
        if not password:
            return 2
    try:
        engine = schema.open_engine(settings_of(args), create=False)
        with database.session_scope(engine) as session:
            if args.users_command in ("disable", "enable"):
                ended = staff.set_active(session, name=name, active=args.users_command == "enable", by=by)
                done = f"{args.users_command}d {name}" + (f"; {ended} open sessions ended" if ended else "")
            elif args.users_command == "reset-password":
                staff.reset_password(session, name=name, password=password, by=by)
                done = f"new password for {name}; their open sessions ended"
            else:
                staff.set_role(session, name=name, role=args.role, by=by)
                done = f"{name} is now a {args.role}"
    except (ValueError, StoreError) as exc:
        return fail(str(exc))
    print(done)
    return 0


def _new_password(name: str) -> str:
    """The new password from the environment, or asked twice; "" (and the reason said) if not."""
    password = os.environ.get(NEW_PASSWORD_VARIABLE, "")
    if password:
        return password
    import getpass

    try:
        password = getpass.getpass(f"password for {name}: ")
        again = getpass.getpass("the same password again: ")
    except EOFError:
        fail(f"no password given (type it, or set {NEW_PASSWORD_VARIABLE})")
        return ""
    if password != again:
        fail("the two passwords differ; nothing was changed")
        return ""
    return password


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
    from bot.claims import staff

    if not args.name.strip():
        return fail("the name is empty")
    if args.role not in staff.ROLES:
        return fail(f"unknown role {args.role!r}; roles are: {', '.join(staff.ROLES)}")
    password = _new_password(args.name)
    if not password:
        return 2
    try:
        engine = schema.open_engine(settings_of(args), create=False)
        with database.session_scope(engine) as session:
            user = staff.add_user(session, name=args.name.strip(), role=args.role, password=password)
    except (ValueError, StoreError) as exc:
        return fail(str(exc))
    print(f"added {user.name} ({user.role})")
    return 0
