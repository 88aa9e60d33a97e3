"""The mail edges and the running worker: the mailbox (IMAP), the outbox (SMTP), one cycle of
read, process, archive and send, the worker that schedules cycles and the other jobs, and the
digest's delivery.

May import: ``bot.pipeline``, ``bot.reports``, ``bot.claims``, ``bot.storage``, ``bot.stages``,
``bot.config``. Never the web page or the commands.
"""
