"""The staff approval web page: staff read each drafted reply beside the client's email and
approve, edit, reject or escalate it through ``bot.claims.approval``. ``app`` wires the routes;
each page is a module (``session``, ``queue``, ``reply``, ``claim``, ``logins``) over ``base.Site``.

May import: ``bot.reports``, ``bot.claims``, ``bot.storage``, ``bot.stages``, ``bot.config``.
Never the mail edges or the commands.
"""

from __future__ import annotations

from bot.web.app import create_app
from bot.web.server import serve, start_in_thread, stop

__all__ = ["create_app", "serve", "start_in_thread", "stop"]
