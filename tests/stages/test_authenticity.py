from __future__ import annotations

from bot.stages.authenticity import vouched_for

OURS = "mx.broker.example"


def test_our_servers_dmarc_pass_for_the_from_domain_vouches() -> None:
    ok, why = vouched_for((f"{OURS}; dmarc=pass header.from=example.com",), "alice@example.com", OURS)
    assert ok and "dmarc=pass" in why


def test_a_pass_written_under_another_servers_name_is_ignored() -> None:
    results = ("attacker.example; dmarc=pass header.from=example.com",)
    ok, why = vouched_for(results, "alice@example.com", OURS)
    assert not ok and why == f"no Authentication-Results from {OURS}"


def test_only_the_topmost_header_of_our_server_counts() -> None:
    results = (
        f"{OURS}; dmarc=fail header.from=example.com",
        f"{OURS}; dmarc=pass header.from=example.com",  # below ours: written before it arrived
    )
    assert not vouched_for(results, "alice@example.com", OURS)[0]


def test_a_dkim_pass_counts_only_when_its_domain_is_aligned_with_the_from_domain() -> None:
    aligned = (f"{OURS}; dkim=pass header.d=example.com; dmarc=none",)
    other = (f"{OURS}; dkim=pass header.d=evil.example; dmarc=none",)
    assert vouched_for(aligned, "alice@mail.example.com", OURS)[0]
    assert not vouched_for(other, "alice@example.com", OURS)[0]


def test_a_dmarc_pass_for_another_domain_does_not_vouch_for_this_one() -> None:
    results = (f"{OURS}; dmarc=pass header.from=evil.example",)
    assert not vouched_for(results, "alice@example.com", OURS)[0]


def test_an_unreadable_header_is_no_proof() -> None:
    assert not vouched_for(("%%% not a header",), "alice@example.com", OURS)[0]


def test_when_our_own_header_cannot_be_read_no_header_below_it_is_used_instead() -> None:
    results = (
        f"{OURS}; dmarc=fail header.from=example.com; spf=pass smtp.helo=[203.0.113.9]",
        f"{OURS}; dmarc=pass header.from=example.com",
    )
    assert not vouched_for(results, "alice@example.com", OURS)[0]
