"""The digest's words that are not in its templates, per ``[digest] language``: the subject, the
chart's labels and alt text, the lifecycle states, reply kinds and rule sets by name, and how a
duration and a date read. The templates (``digest.txt.j2``, ``digest.zh-Hans.txt.j2``...) hold
the rest; a wholly Chinese digest needs these in Chinese too.

The states follow the approval page's catalogues (``bot/web/locale``), so that a manager reads
the same word in the digest and on the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.reports.digest_figures import AgeBucket

LANGUAGES = ("en", "zh-Hans", "zh-Hant")


@dataclass(frozen=True)
class Words:
    language: str
    # str.format patterns: the subject takes day, new, waiting, overdue.
    subject: str
    # Days, hours, minutes, seconds: "{d} d {h} h"...
    units: tuple[str, str, str, str]
    weekdays: tuple[str, ...]
    # "%A %d %B %Y" in English; the Chinese patterns are built from numbers.
    long_date: str
    chart_title: str
    chart_x: str
    chart_y: str
    # The buckets' labels, in AGE_BOUNDS order.
    buckets: tuple[str, str, str, str, str]
    # The chart's alt text: takes total, and the buckets as "label: count" joined by ``separator``.
    alt: str
    separator: str
    no_reason: str
    states: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)

    def state(self, value: str) -> str:
        return self.states.get(value, value)

    def kind(self, value: str) -> str:
        return self.kinds.get(value, value)

    def rules_name(self, value: str) -> str:
        return self.rules.get(value, value)

    def duration(self, value: timedelta) -> str:
        """Truncated, not rounded: a day or more to the hour, under a day to the minute."""
        day, hour, minute, second = self.units
        seconds = max(0, int(value.total_seconds()))
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        if days:
            return f"{day.format(days)}{self._join}{hour.format(hours)}"
        if hours:
            return hour.format(hours) + (f"{self._join}{minute.format(minutes)}" if minutes else "")
        if minutes:
            return minute.format(minutes)
        return second.format(seconds)

    @property
    def _join(self) -> str:
        return " " if self.language == "en" else ""

    def date(self, moment: datetime) -> str:
        """The digest's day as a heading: "Friday 15 March 2024", "2024年3月15日（星期五）"."""
        if self.language == "en":
            return moment.strftime(self.long_date)
        return self.long_date.format(
            year=moment.year, month=moment.month, day=moment.day, weekday=self.weekdays[moment.weekday()]
        )

    def chart_alt(self, backlog: list[AgeBucket]) -> str:
        parts = [f"{self.buckets[index]}: {bucket.count:,}" for index, bucket in enumerate(backlog)]
        return self.alt.format(total=f"{sum(b.count for b in backlog):,}", buckets=self.separator.join(parts))


ENGLISH = Words(
    language="en",
    subject="Claims digest {day}: {new} new, {waiting} drafts waiting, {overdue} overdue",
    units=("{} d", "{} h", "{} min", "{} s"),
    weekdays=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    long_date="%A %d %B %Y",
    chart_title="Open claims by age",
    chart_x="business days since the claim was received",
    chart_y="open claims",
    buckets=("under 1", "1-2", "3-6", "7-13", "14 or more"),
    alt="Bar chart of the {total} open claims by age in business days since receipt: {buckets}.",
    separator="; ",
    no_reason="(no reason given)",
)

SIMPLIFIED = Words(
    language="zh-Hans",
    subject="索赔日报 {day}：新增 {new} 宗，待批覆函 {waiting} 封，逾期 {overdue} 宗",
    units=("{}天", "{}小时", "{}分钟", "{}秒"),
    weekdays=("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    long_date="{year}年{month}月{day}日（{weekday}）",
    chart_title="未结索赔账龄",
    chart_x="自收到索赔起的工作日数",
    chart_y="未结索赔（宗）",
    buckets=("不足1日", "1-2日", "3-6日", "7-13日", "14日或以上"),
    alt="柱状图：{total} 宗未结索赔按自收到起的工作日数分布：{buckets}。",
    separator="；",
    no_reason="（未注明原因）",
    states={
        "received": "已收到",
        "acknowledged": "已确认收到",
        "needs_information": "待补充信息",
        "assessed": "已评估",
        "offer_sent": "补偿方案已发送",
        "consented": "客户已同意",
        "refused": "客户已拒绝",
        "settled": "已结案",
        "rejected": "已驳回",
        "escalated": "已上报",
    },
    kinds={
        "acknowledgement": "受理确认",
        "needs_information": "补充信息请求",
        "unverified_sender": "发件人未验证通知",
        "offer": "补偿方案",
        "consent_received": "同意回执",
        "consent_confirmation": "同意核实",
        "settled": "结案通知",
        "rejected": "驳回通知",
        "reminder": "提醒",
        "final_response": "最终答复",
        "followup_received": "来函回执",
        "delay": "延期通知",
    },
    rules={
        "broker": "本公司承诺的期限",
        "asic": "澳大利亚证券投资委员会规则",
        "fca": "英国金融行为监管局规则",
        "cysec": "塞浦路斯证券交易委员会规则",
    },
)

TRADITIONAL = Words(
    language="zh-Hant",
    subject="索償日報 {day}：新增 {new} 宗，待批覆函 {waiting} 封，逾期 {overdue} 宗",
    units=("{}天", "{}小時", "{}分鐘", "{}秒"),
    weekdays=("週一", "週二", "週三", "週四", "週五", "週六", "週日"),
    long_date="{year}年{month}月{day}日（{weekday}）",
    chart_title="未結索償賬齡",
    chart_x="自收到索償起的工作日數",
    chart_y="未結索償（宗）",
    buckets=("不足1日", "1-2日", "3-6日", "7-13日", "14日或以上"),
    alt="柱狀圖：{total} 宗未結索償按自收到起的工作日數分佈：{buckets}。",
    separator="；",
    no_reason="（未註明原因）",
    states={
        "received": "已收到",
        "acknowledged": "已確認收件",
        "needs_information": "需補充資料",
        "assessed": "已評估",
        "offer_sent": "已發出補償方案",
        "consented": "客戶已同意",
        "refused": "客戶已拒絕",
        "settled": "已結案",
        "rejected": "已拒絕",
        "escalated": "已上報",
    },
    kinds={
        "acknowledgement": "受理確認",
        "needs_information": "補充資料請求",
        "unverified_sender": "寄件人未驗證通知",
        "offer": "補償方案",
        "consent_received": "同意回條",
        "consent_confirmation": "同意核實",
        "settled": "結案通知",
        "rejected": "拒絕通知",
        "reminder": "提醒",
        "final_response": "最終答覆",
        "followup_received": "來函回條",
        "delay": "延期通知",
    },
    rules={
        "broker": "本公司承諾的期限",
        "asic": "澳洲證券及投資委員會規則",
        "fca": "英國金融行為監管局規則",
        "cysec": "塞浦路斯證券交易委員會規則",
    },
)

WORDS = {words.language: words for words in (ENGLISH, SIMPLIFIED, TRADITIONAL)}


def words_for(language: str) -> Words:
    """The words for ``language``; an unknown one is refused, not shown in English by surprise."""
    try:
        return WORDS[language]
    except KeyError:
        raise ValueError(
            f"unknown digest language {language!r}; use one of: {', '.join(LANGUAGES)}"
        ) from None
