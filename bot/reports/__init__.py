"""What the bot knows, read out for people: the managers' digest (figures and letter), the
complaints register export, the claims report, the operational status, and the extraction
scorer.

May import: ``bot.claims``, ``bot.storage``, ``bot.stages``, ``bot.config``. Never the mail edges
(the digest is delivered by ``bot.mail.digest_mail``), the web page or the commands.
"""
