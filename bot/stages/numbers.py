"""Account and order numbers in the client's words, each with its evidence and a confidence.

A wrong account number would send one client's data to another person, so a number counts
(confidence >= 0.5) only when a label, a table heading or the shape of the message says what
it is. Every other number is kept at low confidence for the match stage to try.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.stages.masking import joined_digit_groups, left_out, mask_distractors

LABELLED = 0.9
INFERRED = 0.6
LOOSE = 0.3


@dataclass(frozen=True)
class Candidate:
    value: str
    confidence: float
    evidence: str


@dataclass(frozen=True)
class _Hit:
    kind: str  # "account" or "order"
    value: str
    start: int
    confidence: float
    evidence: str


_ACCOUNT_LABEL = (
    r"(?:(?:mt[45]|trading|交易)\s*)?"
    r"(?<![a-z])(?:acc?ou?nts?\s*(?:no\.?|num(?:ber|er)?|#|id)?|acct\.?\s*(?:no\.?|#)?|acc\b\.?|a/c\s*(?:no\.?)?"
    r"|login(?:\s*id)?|[账帐賬帳][户戶号號](?:号码|號碼|号|號)?|戶口(?:號碼|號)?|mt[45](?=\s*[:：]))"
)
_ORDER_LABEL = (
    r"(?<![a-z])(?:(?:or?ders?|oder)\s*(?:no\.?|nos\.?|numbers?|num|#|id)?|tickets?\s*(?:no\.?|nos\.?|numbers?|#|id)?"
    r"|tkts?\b\.?|positions?\s*(?:no\.?|numbers?|#|id)?|deals?\s*(?:no\.?|#)?|trades?\s*(?:no\.?|nos\.?|numbers?|#|id)"
    r"|[订訂定][单單](?:号码|號碼|编号|編號|号|號)?|[单單][号號子]|[张張][单單]|持[仓倉][单單]?[号號]?|[仓倉]位[号號]?|部位"
    r"|[票][号號])"
)
_GLUE = (
    r"(?:\s*(?:is|are|was|were|:|#|=|是|为|為|係|系|的|还有|還有|分别是|分別是|如下|由|from|应为|應為"
    r"|应该是|應該是|从|從|\(|（"
    # "accounts with you, 2101187 and …", "成交單號（deal）：21780045"
    r"|with\s+(?:you|your\s+\w+)\s*,?|[(（][^()（）\d\n]{1,20}[)）])\s*){0,3}"
    r"\s*(?:(?:[-*•·]|\d{1,2}[.、)])[ \t]*)?"
)
# "positions closed: …", "orders affected below: …"
_FEW_WORDS_THEN_COLON = r"\s+(?:[a-z]+ed|below|are)(?:\s+[a-z]+)?\s*[:：]\s*"
_RANGE = r"\s*(?:-|\u2013|~|〜|\bto\b|至|到)\s*\d{1,10}(?!\d)"
_NOTE = r"(?:\s*[(（](?:(?!\d{5})[^()（）\n]){0,60}[)）])?"  # "71002345（XAUUSD 买入 2手）"
_ITEM = rf"#?\d{{5,10}}(?!\d)(?:{_RANGE})?{_NOTE}"
_AND = r"(?:[,;/、&]|\band\b|\bor\b|和|及|与|與|以及|同|跟)"
_ORDER_SEP = rf"(?:(?:\s*{_AND})+\s*|[ \t]+|[ \t]*\n[ \t]*(?:(?:[-*•·]|\d{{1,2}}[.、)])[ \t]*)?)"
_ACCOUNT_RE = re.compile(
    rf"{_ACCOUNT_LABEL}{_GLUE}"
    rf"(?P<list>\d{{4}} \d{{4}}(?!\d)|{_ITEM}(?:(?:\s*{_AND})+\s*{_ITEM})*)",
    re.IGNORECASE,
)
_ORDER_RE = re.compile(
    rf"{_ORDER_LABEL}(?:{_GLUE}|{_FEW_WORDS_THEN_COLON})(?P<list>{_ITEM}(?:{_ORDER_SEP}{_ITEM})*)",
    re.IGNORECASE,
)
_HEADING = {
    "account": re.compile(rf"^{_ACCOUNT_LABEL}(?:\(s\))?$", re.I),
    "order": re.compile(rf"^{_ORDER_LABEL}(?:\(s\))?$", re.I),
}
_CORRECTION = re.compile(
    r"更正|改正|应为|應為|应该是|應該是|打错|打錯|\bcorrection\b|\bshould (?:be|read)\b|\bi meant\b|\btypo\b"
    r"|\bcorrect (?:\w+ ){0,2}is\b",
    re.IGNORECASE,
)
_BARE_NUMBER = re.compile(r"(?<!\d)\d{5,10}(?!\d)")
# "Ticket" and "position" name lottery tickets and support tickets too: they count as order
# labels only in a message about trading.
_AMBIGUOUS_LABEL = re.compile(r"^(?:tickets?|tkts?|positions?)\b", re.IGNORECASE)
_TRADING = re.compile(
    r"\b(?:mt[45]|trad(?:e|es|ed|er|ing)|forex|fx|lots?|stop(?:ped)?[ -]?out|liquidat\w*|margin|outage|server"
    r"|buy|sell|open(?:ed)?|orders?|[A-Z]{3}USD|USD[A-Z]{3})\b|交易|平仓|平倉|开仓|開倉|爆仓|爆倉|斬倉|强平|強平|故障",
    re.IGNORECASE,
)


# "the order number shown on my platform is 40318876": a label, a few words, then "is".
_NAMED_THEN_IS = re.compile(
    r"(?<![a-z])(?:(?P<order>orders?|tickets?|positions?|deals?)|(?P<account>acc?ou?nts?|login))"
    rf"\s+(?:number|no\.?|#|id)(?:\s+[a-z]+){{1,5}}?\s+(?:is|was)\s*[:：]?\s*(?P<list>{_ITEM})",
    re.IGNORECASE,
)
# MT4's journal names the account in quotes before each entry: "'2231187': order buy market".
_JOURNAL_ACCOUNT = re.compile(r"(?<![\w'])'(\d{5,10})'[:：]\s")
# A line that ends in a colon and names orders or accounts, with the numbers on the lines below:
# "以下三張訂單在晚上成交：" then one number a line.
_LEAD_IN = re.compile(r"^[^\n]*[:：][ \t]*\n(?:[ \t]*\n)*", re.MULTILINE)
_LISTED_LINE = re.compile(r"[ \t]*(?:[-*•·][ \t]*)?#?(\d{5,10})[ \t]*(?:\n|$)")
_BANK_DETAILS = re.compile(r"bank|sort\s*code|iban|swift|bic|bsb|routing|银行|銀行", re.IGNORECASE)


def find_numbers(
    text: str, *, sender: str = "", context: str = ""
) -> tuple[list[Candidate], list[Candidate]]:
    """Account and order candidates in ``text`` (the subject and the client's own words);
    ``context`` is the whole message, quotes included, which tells whether it is about trading."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    masked = one_line_per_row(joined_digit_groups(mask_distractors(text)))
    hits = _labelled(masked, "account", _ACCOUNT_RE) + _labelled(masked, "order", _ORDER_RE)
    hits += (
        _table_columns(masked) + _named_then_is(masked) + _journal_accounts(masked) + _listed_below(masked)
    )
    if not _TRADING.search(f"{text}\n{context}"):
        hits = [_demoted(h) if _AMBIGUOUS_LABEL.match(h.evidence) else h for h in hits]
    hits = _apply_corrections(masked, sorted(hits, key=lambda h: h.start))
    accounts = _unique([h for h in hits if h.kind == "account"])
    taken = {c.value for c in accounts}
    orders = _unique([h for h in hits if h.kind == "order" and h.value not in taken])
    taken |= {c.value for c in orders}
    unlabelled = [m for m in _BARE_NUMBER.finditer(masked) if m.group(0) not in taken]
    series = _in_order_series(unlabelled, accounts, orders)
    inferred = _unlabelled_account([m for m in unlabelled if m.group(0) not in series], hits, sender)
    for match in unlabelled:
        if match.group(0) in taken:
            continue
        taken.add(match.group(0))
        evidence = _around(text, match.start(), match.end())
        if match.group(0) in series:
            orders.append(Candidate(match.group(0), INFERRED, evidence))
            accounts.append(Candidate(match.group(0), LOOSE, evidence))
            continue
        if inferred is match:
            accounts.append(Candidate(match.group(0), INFERRED, evidence))
            orders.append(Candidate(match.group(0), LOOSE, evidence))
            continue
        loose = Candidate(match.group(0), LOOSE, evidence)
        accounts.append(loose)
        orders.append(loose)
    for between in _unlabelled_ranges(masked, text, taken):
        orders.append(between)
    fine = left_out(masked)
    return accounts, [c for c in orders if c.value not in fine]


def _unlabelled_ranges(masked: str, text: str, taken: set[str]) -> list[Candidate]:
    """The tickets between the ends of a range no label names ("从60404470到60404473"), loose:
    the records say which are the client's."""
    found: list[Candidate] = []
    for match in re.finditer(rf"(?<!\d)\d{{5,10}}(?!\d){_RANGE}", masked):
        evidence = _around(text, match.start(), match.end())
        for number in expand(match.group(0)):
            if number not in taken:
                taken.add(number)
                found.append(Candidate(number, LOOSE, evidence))
        if len(found) >= _MAX_FROM_RANGES:
            break
    return found


# More tickets than a client ever has: a text of thousands of ranges is someone testing us.
_MAX_FROM_RANGES = 500


def expand(listing: str) -> list[str]:
    """Numbers in a list, with ranges such as ``55667788-90`` or ``X ~ Y`` spelled out (at most 50)."""
    numbers: list[str] = []
    for item in re.findall(rf"\d{{5,10}}(?!\d)(?:{_RANGE})?", re.sub(r"[(（][^()（）]*[)）]", " ", listing)):
        parts = re.findall(r"\d+", item)
        if len(parts) == 1:
            numbers.append(parts[0])
            continue
        first, last = parts
        if len(last) < len(first):
            last = first[: len(first) - len(last)] + last
        low, high = sorted((int(first), int(last)))
        if len(last) == len(first) and high - low < 50:
            numbers.extend(str(n).zfill(len(first)) for n in range(low, high + 1))
        else:
            numbers.append(first)
        if len(numbers) >= _MAX_FROM_RANGES:
            break
    return numbers


def _labelled(masked: str, kind: str, pattern: re.Pattern[str]) -> list[_Hit]:
    hits = []
    banks = _bank_words(masked) if kind == "account" else {}
    for match in pattern.finditer(masked):
        line = masked.rfind("\n", 0, match.start()) + 1 if banks else 0
        if banks.get(line, len(masked) + 1) <= match.start():
            continue
        evidence = " ".join(match.group(0).split())
        for number in expand(
            match.group("list").replace(" ", "") if kind == "account" else match.group("list")
        ):
            hits.append(_Hit(kind, number, match.start(), LABELLED, evidence))
        if len(hits) >= _MAX_FROM_RANGES:
            break
    return hits


def _bank_words(masked: str) -> dict[int, int]:
    """Where each line holding a bank word starts, to where its first one ends: an account
    number after it is a bank's. One pass (a prefix search per number was quadratic)."""
    found = list(_BANK_DETAILS.finditer(masked))
    return {masked.rfind("\n", 0, m.start()) + 1: m.end() for m in reversed(found)}


def _named_then_is(masked: str) -> list[_Hit]:
    hits = []
    for match in _NAMED_THEN_IS.finditer(masked):
        kind = "order" if match.group("order") else "account"
        evidence = " ".join(match.group(0).split())
        hits += [_Hit(kind, n, match.start(), LABELLED, evidence) for n in expand(match.group("list"))]
    return hits


def _journal_accounts(masked: str) -> list[_Hit]:
    return [
        _Hit("account", m.group(1), m.start(), LABELLED, f"MT4 journal {m.group(0).strip()}")
        for m in _JOURNAL_ACCOUNT.finditer(masked)
    ]


def _listed_below(masked: str) -> list[_Hit]:
    """Numbers one a line under a lead-in line that ends in a colon; the label the lead-in names
    last says what they are."""
    hits = []
    for lead in _LEAD_IN.finditer(masked):
        labels = [("account", m) for m in re.finditer(_ACCOUNT_LABEL, lead.group(0), re.I)]
        labels += [("order", m) for m in re.finditer(_ORDER_LABEL, lead.group(0), re.I)]
        if not labels:
            continue
        kind = max(labels, key=lambda label: label[1].start())[0]
        position = lead.end()
        while listed := _LISTED_LINE.match(masked, position):
            hits.append(_Hit(kind, listed.group(1), listed.start(1), LABELLED, lead.group(0).strip()))
            position = listed.end()
    return hits


def _table_columns(masked: str) -> list[_Hit]:
    """Numbers in a table column headed by a label (a pasted or HTML table comes as tab-separated rows)."""
    hits: list[_Hit] = []
    rows = _rows(masked)
    for index, row in enumerate(rows):
        for kind, heading in _HEADING.items():
            columns = [i for i, cell in enumerate(row.cells) if heading.match(cell)]
            if len(row.cells) < 2 or not columns:
                continue
            head = f"{row.cells[columns[0]]} (of {' | '.join(c for c in row.cells if c)})"
            hits += _column(rows[index + 1 :], len(row.cells), columns[0], kind, head)
    return hits


@dataclass(frozen=True)
class _Row:
    start: int
    cells: list[str]
    tabbed: bool


def _rows(masked: str) -> list[_Row]:
    """Each line of ``masked`` as a row of cells: split by tabs when it has any (a masked price is
    spaces), else by wide spaces."""
    rows = []
    offset = 0
    for line in masked.split("\n"):
        tabbed = "\t" in line
        cells = re.split(r"\t" if tabbed else r" {2,}", line.strip(" \r"))
        rows.append(_Row(offset, [cell.strip() for cell in cells], tabbed))
        offset += len(line) + 1
    return rows


def one_line_per_row(text: str) -> str:
    """``text`` with Outlook's plain-text tables made one line per row (same length, so offsets hold).

    Outlook's plain-text copy of an HTML table puts each cell on its own line, the later cells
    indented by a tab, and a blank line between rows."""
    pieces = re.split(r"(\n[ \t]*\n)", text)
    is_row = [
        i % 2 == 0 and any(line.startswith("\t") for line in p.split("\n")[1:]) for i, p in enumerate(pieces)
    ]
    for i, piece in enumerate(pieces):
        if is_row[i]:
            pieces[i] = piece.replace("\n", " ")
        elif i % 2 and is_row[i - 1] and i + 1 < len(pieces) and is_row[i + 1]:
            pieces[i] = " " * (len(piece) - 1) + "\n"
    return "".join(pieces)


def _column(rows: list[_Row], width: int, column: int, kind: str, head: str) -> list[_Hit]:
    """The numbers under a heading, down to the first row without one there. A row of a tab-separated
    table broken over two lines (a cell holding two numbers) is joined: both lines are short."""
    hits = []
    rows = list(rows)
    while rows:
        row = rows.pop(0)
        cells = row.cells
        if _short(row, width) and rows and _short(rows[0], width):
            more = rows.pop(0).cells
            cells = [*cells[:-1], f"{cells[-1]} {more[0]}", *more[1:]]
        cell = cells[column] if len(cells) > column else ""
        if not re.fullmatch(rf"#?\d{{5,10}}(?:{_CELL_SEP}#?\d{{5,10}})*", cell):
            break
        for number in re.findall(r"\d{5,10}", cell):
            hits.append(_Hit(kind, number, row.start, LABELLED, f"table column {head}"))
    return hits


def _short(row: _Row, width: int) -> bool:
    return row.tabbed and 1 < len(row.cells) < width


_CELL_SEP = r"\s*[,，、/;；]?\s*"


def _apply_corrections(masked: str, hits: list[_Hit]) -> list[_Hit]:
    """A number the client corrects ("更正：应为 52033816", "should be …") replaces the one before it."""
    for phrase in _CORRECTION.finditer(masked):
        before = [h for h in hits if h.start < phrase.start() - 12]
        if not before:
            continue
        corrected = _corrected(masked, phrase, hits, kind=before[-1].kind)
        earlier = [h for h in before if h.kind == corrected.kind] if corrected else []
        if corrected and earlier and earlier[-1].value != corrected.value:
            hits = [_demoted(h) if h is earlier[-1] else h for h in hits]
            if corrected not in hits:
                hits.append(corrected)
    return sorted(hits, key=lambda h: h.start)


def _corrected(masked: str, phrase: re.Match[str], hits: list[_Hit], *, kind: str) -> _Hit | None:
    """The number a correction gives: a labelled one just after it, else the next bare number,
    which is of the kind being corrected."""
    near = [h for h in hits if h.kind == kind and phrase.start() - 12 <= h.start <= phrase.end() + 30]
    if near:
        return near[0]
    bare = re.match(r"[^\d\n]{0,15}?(?<!\d)(\d{5,10})(?!\d)", masked[phrase.end() :])
    if not bare:
        return None
    return _Hit(kind, bare.group(1), phrase.end() + bare.start(1), LABELLED, phrase.group(0) + bare.group(0))


def _in_order_series(
    unlabelled: list[re.Match[str]], accounts: list[Candidate], orders: list[Candidate]
) -> set[str]:
    """Unlabelled numbers from the same ticket series as a labelled order ("Tickets 60234511-13 …
    Also 60234520"): as long, and equal but for the last three digits. Only in a message whose
    account is labelled, so the number cannot be the account the client forgot to label."""
    if not any(c.confidence >= LABELLED for c in accounts):
        return set()
    known = [c.value for c in orders if c.confidence >= LABELLED and len(c.value) >= 7]
    return {
        m.group(0)
        for m in unlabelled
        if any(len(m.group(0)) == len(k) and m.group(0)[:-3] == k[:-3] for k in known)
    }


def _unlabelled_account(
    unlabelled: list[re.Match[str]], hits: list[_Hit], sender: str
) -> re.Match[str] | None:
    """The one unlabelled number written before the labelled orders of a message that names no
    account ("81250076 单号50871123") is the account."""
    orders = [h for h in hits if h.kind == "order" and h.confidence >= LABELLED]
    if any(h.kind == "account" for h in hits) or not orders or len(unlabelled) != 1:
        return None
    number = unlabelled[0]
    if number.start() > orders[0].start or number.group(0) in sender:
        return None
    return number


def _demoted(hit: _Hit) -> _Hit:
    return _Hit(hit.kind, hit.value, hit.start, LOOSE, hit.evidence)


def _unique(hits: list[_Hit]) -> list[Candidate]:
    """One candidate per number, with its best confidence and that hit's evidence."""
    best: dict[str, _Hit] = {}
    for hit in hits:
        if hit.value not in best or hit.confidence > best[hit.value].confidence:
            best[hit.value] = hit
    return [Candidate(h.value, h.confidence, h.evidence) for h in best.values()]


def _around(text: str, start: int, end: int, width: int = 30) -> str:
    return " ".join(text[max(0, start - width) : end + width].split())
