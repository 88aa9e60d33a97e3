"""The claim's rules: its lifecycle and the moves that record it, who may approve which reply,
the replies drafted at each step, follow-ups and consent, reminders and deadlines.

May import: ``bot.stages``, ``bot.storage`` and ``bot.config``. Never the mail edges, the web
page or the commands (``bot.mail``, ``bot.web``, ``bot.cli``).
"""
