"""The trade-records import: what each kind of file holds (``columns``), reading a file row by
row (``reading``), the idempotent, audited writer (``writer``), MT5 deals (``mt5``), and
``importer.import_file``, which puts them together.

May import: ``bot.storage`` and ``bot.config``.
"""
