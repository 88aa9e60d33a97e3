"""The managers' page of locked logins, and lifting a lock (also ``claimsbot users unlock NAME``)."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot.claims import approval
from bot.storage import access
from bot.storage.tables import StaffUser
from bot.web.base import Site
from bot.web.forms import field

log = logging.getLogger(__name__)


class LoginPages(Site):
    async def logins(self, request: Request) -> Response:
        def load(session: Session, user: StaffUser) -> dict[str, Any]:
            if user.role != "manager":
                raise approval.NotAllowed(f"only a manager sees locked logins; {user.name} is {user.role}")
            limits = {
                "account": access.ACCOUNT_LIMIT,
                "address": access.ADDRESS_LIMIT,
                "lockout": access.LOCKOUT_FAILURES,
                "lockout_minutes": int(access.LOCKOUT_WINDOW.total_seconds() // 60),
            }
            return {"user": user, "locks": list(access.locks(session)), "limits": limits}

        return self.page(request, "logins.html", await self.as_staff(request, load))

    async def unlock(self, request: Request) -> Response:
        def work(session: Session, user: StaffUser, form: FormData) -> tuple[str, str]:
            name = field(form, "name").strip()
            if not approval.unlock_login(session, user, name):
                return f"{name!r} was not locked and had no failed logins to forget.", "/logins"
            log.warning("%s unlocked the login of %r", user.name, name)
            return f"{name!r} is unlocked and may log in again.", "/logins"

        return await self.act(request, work)
