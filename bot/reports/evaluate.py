"""Measure the extractor against a labelled corpus: precision and recall per field and language.

    python -m bot.reports.evaluate tests/corpus    (or python -m bot.reports.evaluate)

The corpus folder holds ``mail/*.eml`` and ``labels.json`` (expected language, name, accounts,
orders, request and consent per file). Prints one table; ``evaluate()`` returns the figures so
tests can hold floors under them.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bot.stages.extract import extract
from bot.stages.parse import Unreadable, parse


@dataclass
class Tally:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positive + self.false_negative
        return self.true_positive / wanted if wanted else 1.0

    def add(self, expected: set[str], found: set[str]) -> None:
        self.true_positive += len(expected & found)
        self.false_positive += len(found - expected)
        self.false_negative += len(expected - found)


@dataclass
class Scores:
    messages: int = 0
    numbers: dict[str, Tally] = field(default_factory=lambda: {"accounts": Tally(), "orders": Tally()})
    right: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    asked: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    consent: Tally = field(default_factory=Tally)
    false_consent: list[str] = field(default_factory=list)
    mistakes: list[str] = field(default_factory=list)

    def rate(self, name: str) -> float:
        return self.right[name] / self.asked[name] if self.asked[name] else 1.0


def evaluate(corpus: Path) -> dict[str, Scores]:
    labels = json.loads((corpus / "labels.json").read_text(encoding="utf-8"))
    scores: dict[str, Scores] = defaultdict(Scores)
    for name, label in sorted(labels.items()):
        language = label["language"]
        groups = [scores[language], scores["all"]]
        try:
            found = extract(parse((corpus / "mail" / name).read_bytes()))
        except Unreadable as exc:
            for group in groups:
                group.mistakes.append(f"{name}: unreadable: {exc}")
            continue
        for group in groups:
            group.messages += 1
            for numbers in ("accounts", "orders"):
                expected, got = set(label[numbers]), set(getattr(found, f"{numbers[:-1]}_numbers")())
                group.numbers[numbers].add(expected, got)
                if expected != got:
                    group.mistakes.append(f"{name}: {numbers} expected {sorted(expected)} got {sorted(got)}")
            checks = {"language": (label["language"], found.language)}
            if label["kind"] == "complaint":
                checks["name"] = (label["name"], found.name)
                checks["request"] = (label["request"], found.request)
            if label["kind"] == "followup":
                checks["consent"] = (label["consent"], found.consent.answer)
            for field_name, (expected, got) in checks.items():
                group.asked[field_name] += 1
                group.right[field_name] += expected == got
                if expected != got:
                    group.mistakes.append(f"{name}: {field_name} expected {expected!r} got {got!r}")
            given = found.consent.answer
            if given in ("best_price", "restore"):
                if given == label["consent"]:
                    group.consent.true_positive += 1
                else:
                    group.consent.false_positive += 1
                    group.false_consent.append(name)
            elif label["consent"] in ("best_price", "restore"):
                group.consent.false_negative += 1
    return dict(scores)


def report(scores: dict[str, Scores]) -> str:
    lines = [
        f"{'':8} {'msgs':>5} {'acct P':>7} {'acct R':>7} {'order P':>8} {'order R':>8} {'lang':>6} "
        f"{'name':>6} {'request':>8} {'consent':>8} {'consent P':>10}"
    ]
    for language in ("en", "zh-Hans", "zh-Hant", "all"):
        s = scores.get(language)
        if s is None:
            continue
        a, o = s.numbers["accounts"], s.numbers["orders"]
        lines.append(
            f"{language:8} {s.messages:5d} {a.precision:7.3f} {a.recall:7.3f} {o.precision:8.3f} "
            f"{o.recall:8.3f} {s.rate('language'):6.3f} {s.rate('name'):6.3f} {s.rate('request'):8.3f} "
            f"{s.rate('consent'):8.3f} {s.consent.precision:10.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--end-to-end"]:
        if len(argv) != 3:
            print("usage: python -m bot.evaluate --end-to-end DIR BOOK", file=sys.stderr)
            return 2
        from bot.reports import end_to_end

        print(end_to_end.report(end_to_end.score(Path(argv[1]), Path(argv[2]))))
        return 0
    corpus = Path(argv[0]) if argv else Path("tests/corpus")
    scores = evaluate(corpus)
    print(report(scores))
    mistakes = scores["all"].mistakes if "all" in scores else []
    if mistakes:
        print(f"\n{len(mistakes)} mistakes:")
        print("\n".join(f"  {m}" for m in mistakes[:40]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
