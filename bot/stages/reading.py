"""Reading stage: everything the pipeline learns from a message's bytes alone (parse, classify,
and for a new complaint its attachments and what it says), before anything is looked up. A
batch reads all its messages first, so that what they name is looked up for the whole batch
at once."""

from __future__ import annotations

from dataclasses import dataclass

from bot.stages.attachments import AttachmentText, read_attachments
from bot.stages.classify import Kind, Verdict, classify
from bot.stages.extract import Extraction, extract
from bot.stages.parse import ParsedMessage, Unreadable, parse


@dataclass(frozen=True)
class Complaint:
    """A new complaint as read: its attachments' text and what it says, numbers included."""

    attached: tuple[AttachmentText, ...]
    extraction: Extraction


@dataclass(frozen=True)
class Reading:
    parsed: ParsedMessage | None
    # Why it could not be parsed ("" when it could).
    problem: str = ""
    verdict: Verdict | None = None
    complaint: Complaint | None = None

    def numbers(self) -> set[str]:
        """Every number the complaint names, as an account or an order, however unsure."""
        if self.complaint is None:
            return set()
        found = self.complaint.extraction
        return {*found.account_numbers(0.0), *found.order_numbers(0.0)}


def read(raw: bytes, *, own_addresses: frozenset[str], reference_prefix: str) -> Reading:
    try:
        parsed = parse(raw)
    except Unreadable as exc:
        return Reading(None, problem=str(exc))
    verdict = classify(parsed, own_addresses=own_addresses, reference_prefix=reference_prefix)
    if verdict.kind is not Kind.COMPLAINT or verdict.other_topic:
        return Reading(parsed, verdict=verdict)
    attached = read_attachments(parsed)
    complaint = Complaint(attached, extract(parsed, attachments=attached))
    return Reading(parsed, verdict=verdict, complaint=complaint)
