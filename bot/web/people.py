"""The people who use the page: each person's own language and time zone (``/me``), and the
managers' page of staff (``/users``: add, disable, enable, reset a password, change a role), the
same changes as ``claimsbot users``, recorded the same way."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot.claims import approval, staff
from bot.storage import access
from bot.storage.tables import StaffUser
from bot.web.base import Site
from bot.web.forms import field
from bot.web.language import LANGUAGES, gettext

log = logging.getLogger(__name__)
CHANGES_SHOWN = 50
ZONES = ("Asia/Hong_Kong", "Asia/Shanghai", "Asia/Taipei", "Asia/Singapore", "Europe/London", "UTC")


class PeoplePages(Site):
    async def me(self, request: Request) -> Response:
        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            return {"user": user}

        context = await self.as_staff(request, load)
        context.update(languages=LANGUAGES, zones=ZONES, default_zone=self.settings.deadlines.timezone)
        return self.page(request, "me.html", context)

    async def save_me(self, request: Request) -> Response:
        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            try:
                staff.set_preferences(
                    session,
                    name=user.name,
                    language=field(form, "language"),
                    timezone=field(form, "timezone"),
                    languages=list(LANGUAGES),
                )
            except ValueError as exc:
                raise approval.NotAllowed(str(exc)) from None
            self.remember_reader(request, user)
            return gettext("Your language and time zone are saved."), "/me"

        return await self.act(request, work)

    async def keys(self, request: Request) -> Response:
        return self.page(
            request, "keys.html", await self.as_staff(request, lambda session, user: {"user": user})
        )

    async def users(self, request: Request) -> Response:
        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            approval.require(user, "manager", "manage staff")
            changes = access.latest_changes(session, limit=CHANGES_SHOWN)
            return {"user": user, "people": list(staff.users(session)), "changes": changes}

        context = await self.as_staff(request, load)
        context.update(roles=staff.ROLES, min_password=staff.MIN_PASSWORD)
        return self.page(request, "users.html", context)

    async def change_user(self, request: Request) -> Response:
        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            approval.require(user, "manager", "manage staff")
            name, action = field(form, "name").strip(), field(form, "action")
            if name == user.name and action in ("disable", "role"):
                raise approval.NotAllowed(
                    "you cannot disable yourself or change your own role here: ask another manager, "
                    "or use claimsbot users on the server"
                )
            _not_a_second_manager(session, name, action, field(form, "role"))
            try:
                done = _change(session, user, name, action, form)
            except ValueError as exc:
                raise approval.NotAllowed(str(exc)) from None
            log.warning("%s changed staff user %r: %s", user.name, name, action)
            return done, "/users"

        return await self.act(request, work)


def _not_a_second_manager(session: Session, name: str, action: str, role: str) -> None:
    """A manager gives the second approval four eyes need; one who could make another manager,
    or set a manager's password, here could give both. Managers are made and reset only with
    ``claimsbot users`` on the server, where the page's logins count for nothing."""
    target = staff.find(session, name)
    making = action in ("add", "role") and role == "manager"
    resetting = action == "password" and target is not None and target.role == "manager"
    if making or resetting:
        raise approval.NotAllowed(
            "a manager's account is added, promoted or given a new password only with claimsbot users "
            "on the server: from this page one manager could make the second that four eyes need"
        )


def _change(session: Session, user: StaffUser, name: str, action: str, form: FormData) -> str:
    if action == "add":
        staff.add_user(
            session, name=name, role=field(form, "role"), password=field(form, "password"), by=user.name
        )
        return gettext("%(name)s is added.") % {"name": name}
    if action in ("disable", "enable"):
        ended = staff.set_active(session, name=name, active=action == "enable", by=user.name)
        if action == "enable":
            return gettext("%(name)s may log in again.") % {"name": name}
        return gettext("%(name)s is disabled; %(ended)d open sessions ended.") % {
            "name": name,
            "ended": ended,
        }
    if action == "password":
        staff.reset_password(session, name=name, password=field(form, "password"), by=user.name)
        return gettext("%(name)s has a new password; their open sessions ended.") % {"name": name}
    if action == "role":
        staff.set_role(session, name=name, role=field(form, "role"), by=user.name)
        return gettext("%(name)s is now a %(role)s.") % {"name": name, "role": gettext(field(form, "role"))}
    raise ValueError(f"unknown change {action[:20]!r}")
