"""The embedded default: the whole product on one machine, with no configuration and no network:
a pymap IMAP server and an aiosmtpd sink in the process, a sample trade book and sample mail.

May import any part of the bot but the commands (``bot.cli`` runs it as ``claimsbot demo``).
"""
