"""The stored words the page shows in the reader's language (``{{ _(claim.status) }}``): a claim's
state, a reply's or a message's status, an order's outcome, a role, a remedy, a close reason.
Listed here so that the catalogues hold them; a test checks every stored value is."""

from __future__ import annotations

from bot.web.language import N_

STATES = (
    N_("received"), N_("acknowledged"), N_("needs_information"), N_("assessed"), N_("offer_sent"),
    N_("consented"), N_("refused"), N_("settled"), N_("rejected"), N_("escalated"),
)  # fmt: skip
REPLY_STATUSES = (
    N_("draft"), N_("second_approval"), N_("approved"), N_("rejected"), N_("withdrawn"), N_("sending"),
    N_("sent"), N_("uncertain"), N_("failed"),
)  # fmt: skip
MESSAGE_STATUSES = (
    N_("claim"), N_("followup"), N_("automated"), N_("not_complaint"), N_("quarantined"), N_("discarded"),
)  # fmt: skip
OUTCOMES = (
    N_("eligible"), N_("unknown_order"), N_("not_your_order"), N_("outside_window"),
    N_("unverified_sender"), N_("already_claimed"),
)  # fmt: skip
ROLES = (N_("agent"), N_("supervisor"), N_("manager"))
REMEDIES = (N_("best_price"), N_("restore"), N_("unspecified"))
CLOSE_REASONS = (N_("client"), N_("sl"), N_("tp"), N_("stop_out"))
NUMBER_KINDS = (N_("account"), N_("order"))
