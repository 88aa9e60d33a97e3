"""An example for every command's ``--help``: the line an operator would type first."""

from __future__ import annotations

CONFIG = "--config /etc/claimsbot/claimsbot.toml"
EXAMPLES = {
    "run": f"claimsbot run {CONFIG}            (poll until stopped; --once for one pass)",
    "jobs": f"claimsbot jobs {CONFIG}",
    "queue": f"claimsbot queue {CONFIG}",
    "approve": f"claimsbot approve 123 --by sam {CONFIG}",
    "reject": f'claimsbot reject 123 --by sam --reason "wrong account" {CONFIG}',
    "resolve": f"claimsbot resolve 123 --sent {CONFIG}   (it arrived; --resend to send it again)",
    "quarantine": f"claimsbot quarantine {CONFIG}",
    "others": f"claimsbot others {CONFIG}",
    "ingest": f"claimsbot ingest saved-mail.mbox {CONFIG}",
    "import": f"claimsbot import accounts.csv symbols.csv orders.csv ticks.csv {CONFIG}",
    "claims": f"claimsbot claims --json {CONFIG} > claims.jsonl",
    "extract": "claimsbot extract complaint.eml --json",
    "digest": f"claimsbot digest --preview /tmp/digest.html {CONFIG}",
    "letters": f"claimsbot letters preview /tmp/letters {CONFIG}",
    "export": f"claimsbot export complaints --from 2019-06-26 --to 2019-07-31 --out register.csv {CONFIG}",
    "status": f"claimsbot status {CONFIG}",
    "health": f"claimsbot health {CONFIG} || echo 'the worker needs a look'",
    "demo": "claimsbot demo --serve",
    "serve": f"claimsbot serve {CONFIG}            (behind a TLS reverse proxy)",
    "users": f"claimsbot users add sam --role supervisor {CONFIG}",
    "db": f"claimsbot db upgrade {CONFIG}",
    "backup": f"claimsbot backup /var/backups/claimsbot/$(date +%F) {CONFIG}",
}
