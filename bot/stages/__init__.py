"""The pure pipeline stages: parse, classify, extract (with numbers, consent, names, quoting),
match, assess, draft. Each takes what the stage before it returned and returns what the next
needs; ``bot.pipeline`` wires them.

May import: the standard library, ``bot.config`` and each other. Never I/O (imapclient, smtplib,
aiosmtpd, starlette, uvicorn, psycopg, SQLAlchemy or SQLModel) and nothing else of the bot: the
trade records reach them as the shapes in ``records``.
"""
