"""The digest's chart: the open claims by age in business days (``Digest.backlog_by_age``), one
bar per bucket with its count written on it, in the digest's language.

Chinese labels need a CJK font; the first of ``CJK_FAMILIES`` that matplotlib finds is used, and
without one the chart is drawn with English labels rather than with empty boxes.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.reports.digest import Digest
from bot.reports.digest_words import ENGLISH, Words, words_for

if TYPE_CHECKING:
    from matplotlib.font_manager import FontProperties

WIDTH, HEIGHT, DPI = 600, 250, 100
# Preferred families per script; fonts-noto-cjk installs the first ones on Debian.
CJK_FAMILIES = {
    "zh-Hans": (
        "Noto Sans CJK SC",
        "Source Han Sans SC",
        "Noto Sans SC",
        "WenQuanYi Zen Hei",
        "Noto Sans CJK JP",
    ),
    "zh-Hant": (
        "Noto Sans CJK TC",
        "Noto Sans CJK HK",
        "Source Han Sans TC",
        "Noto Sans TC",
        "WenQuanYi Zen Hei",
        "Noto Sans CJK JP",
    ),
}
# Younger buckets in the page's blue, the two oldest in warning colours: where the backlog ages.
COLOURS = ("#4c78a8", "#4c78a8", "#4c78a8", "#f58518", "#e45756")


@lru_cache(maxsize=4)
def cjk_family(language: str) -> str | None:
    """The first installed font family of ``CJK_FAMILIES[language]``, or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES.get(language, ()) if family in installed), None)


def chart_words(language: str) -> tuple[Words, str | None]:
    """The words the chart is drawn in and the font family for them (None: matplotlib's default)."""
    words = words_for(language)
    if words.language == "en":
        return words, None
    family = cjk_family(language)
    return (words, family) if family else (ENGLISH, None)


def chart_png(digest: Digest, language: str = "en") -> bytes:
    """A ``WIDTH`` x ``HEIGHT`` pixel PNG: open claims per age bucket as bars, each with its count."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    words, family = chart_words(language)

    def font(size: float, weight: str = "normal") -> FontProperties:
        return FontProperties(
            family=[family, "DejaVu Sans"] if family else "DejaVu Sans", size=size, weight=weight
        )

    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    counts = [bucket.count for bucket in digest.backlog_by_age]
    positions = list(range(len(counts)))
    bars = axes.bar(positions, counts, width=0.62, color=COLOURS[: len(counts)])
    axes.bar_label(bars, labels=[f"{count:,}" for count in counts], padding=2, fontproperties=font(9, "bold"))
    # Head room above the tallest bar for its count.
    axes.set_ylim(0, max(counts, default=0) * 1.2 + 1)
    axes.set_xticks(positions, list(words.buckets[: len(counts)]))
    for label in axes.get_xticklabels():
        label.set_fontproperties(font(9))
    axes.set_xlabel(words.chart_x, fontproperties=font(9))
    axes.set_ylabel(words.chart_y, fontproperties=font(9))
    axes.set_title(f"{words.chart_title} ({sum(counts):,})", loc="left", fontproperties=font(10, "bold"))
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.tick_params(axis="y", labelsize=8)
    axes.tick_params(axis="x", length=0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    figure.tight_layout(pad=0.6)
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
