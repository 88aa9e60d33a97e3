"""Storage: the database (engine, transactions, schema and its migrations), the table models,
the queries, the kept messages, the trade book as the stages read it, locks and job runs.

May import: ``bot.stages`` (the value types a stored row turns into) and ``bot.config``. Never
the claim's rules, the mail edges, the web page or the commands.
"""
