"""The staff approval web page: staff read each drafted reply beside the client's email and
approve, edit, reject or escalate it through ``bot.approval``."""

from __future__ import annotations

from bot.web.app import create_app
from bot.web.server import serve, start_in_thread, stop

__all__ = ["create_app", "serve", "start_in_thread", "stop"]
