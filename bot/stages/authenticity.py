"""Whether our own receiving server vouches for the From domain of a message.

Only the topmost ``Authentication-Results`` header naming ``[intake] authserv_id`` counts:
that is the one our server added on receipt; anything below it, or naming another server, was
there before and may have been written by the sender. The server vouches when it reports
``dmarc=pass`` for the From domain, or ``dkim=pass`` with a signing domain aligned with it
(the From domain itself or a parent domain of it, as DMARC's relaxed alignment allows).
``authres`` reads the header (RFC 8601); the decision is here.
"""

from __future__ import annotations

import authres


def vouched_for(results: tuple[str, ...], sender: str, authserv_id: str) -> tuple[bool, str]:
    """(vouched, why) for a message from ``sender`` carrying these Authentication-Results values."""
    domain = sender.rsplit("@", 1)[-1].lower()
    value = next((v for v in results if _authserv_of(v) == authserv_id.lower()), None)
    if value is None:
        return False, f"no Authentication-Results from {authserv_id}"
    try:
        ours = authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {value}")
    except Exception:
        # Never fall through to a header further down: the sender may have written that one.
        return False, f"the Authentication-Results of {authserv_id} cannot be read"
    for result in ours.results:
        method, verdict = str(result.method).lower(), str(result.result).lower()
        props = {f"{p.type}.{p.name}".lower(): str(p.value).lower() for p in result.properties}
        if method == "dmarc" and verdict == "pass" and props.get("header.from", domain) == domain:
            return True, f"{authserv_id}: dmarc=pass for {domain}"
        signer = props.get("header.d", "")
        if method == "dkim" and verdict == "pass" and _aligned(signer, domain):
            return True, f"{authserv_id}: dkim=pass, signed by {signer}"
    return False, f"{authserv_id} reports neither dmarc=pass nor an aligned dkim=pass for {domain}"


def _authserv_of(value: str) -> str:
    """The authserv-id a header names (its first token, before any version and the first ";")."""
    head = value.split(";", 1)[0].split()
    return head[0].lower() if head else ""


def _aligned(signer: str, domain: str) -> bool:
    return bool(signer) and signer.count(".") >= 1 and (domain == signer or domain.endswith("." + signer))
