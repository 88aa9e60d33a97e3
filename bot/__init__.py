"""claimsbot: compensation claims for the June 2019 quote-server outage, from mailbox to approved reply.

The layers, top to bottom (``docs/architecture.md``; import-linter holds them in pyproject.toml):
``cli``, ``demo``, ``web``, ``mail``, ``reports``, ``pipeline``, ``records``, ``claims``,
``storage``, ``stages``, ``config``. A module imports only from layers below its own.
"""

__version__ = "0.1.0"
