"""claimsbot: compensation claims for the June 2019 quote-server outage, from mailbox to approved reply."""

__version__ = "0.1.0"
