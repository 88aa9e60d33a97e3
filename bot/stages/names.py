"""The claimant's name: said in the text, signed at the end, or the From display name.

What the client writes beats the display name, which is often a nickname ("mike t") or an
English name for a client who signs in Chinese. A message written for someone else ("on
behalf of my father, Lim Boon Keng", "替我父亲刘建华") names the account holder.
"""

from __future__ import annotations

import re

_SURNAMES = (
    "王李张張刘劉陈陳杨楊黄黃赵趙吴吳周徐孙孫马馬朱胡郭何高林罗羅郑鄭梁谢謝宋唐许許韩韓冯馮邓鄧曹彭曾肖蕭田董袁潘于"
    "蒋蔣蔡余杜叶葉程苏蘇魏吕呂丁任沈姚卢盧姜崔钟鍾谭譚陆陸汪范金石廖贾賈夏韦韋付方白邹鄒孟熊秦邱江尹薛闫閆段雷侯"
    "龙龍史陶黎贺賀顾顧毛郝龚龔邵万萬钱錢严嚴覃武戴莫孔向汤湯常温溫康施文牛樊葛邢安齐齊易乔喬伍庞龐颜顏倪庄莊聂聶"
    "章鲁魯岳翟殷詹申欧歐耿关關兰蘭焦俞左柳甘祝包宁寧尚符舒阮柯纪紀梅童凌毕畢单單季裴霍涂成苗谷盛曲翁冉骆駱蓝藍"
    "路游辛靳管柴蒙鲍鮑华華喻祁蒲房滕屈饶饒解艾尤阳陽时時穆农農司卓古吉缪繆简簡车車项項连連麦麥褚娄婁窦竇戚岑景"
    "党黨宫宮费費卜冷晏席卫衛米柏宗瞿桂全佟应應臧闵閔邬鄔边邊卞姬师師仇栾欒隋商刁沙荣榮巫寇桑郎甄丛叢仲虞敖巩鞏"
    "明佘池查麻苑迟遲邝鄺區区黎冼洪湛"
)
_COMPOUND_SURNAMES = ("欧阳", "歐陽", "司马", "司馬", "上官", "诸葛", "諸葛", "司徒", "公孙", "公孫")
_TITLES = "先生|小姐|女士|太太|经理|經理|老师|老師|总|總"
_HAN_NAME = rf"(?:{'|'.join(_COMPOUND_SURNAMES)}|[{_SURNAMES}])(?!{_TITLES})[\u4e00-\u9fff]{{1,2}}"
_LATIN_WORD = r"(?:[A-Z][a-zA-Z'\u2019-]+|[A-Z]\.)"  # "Suresh Kumar R.", "B. Thompson"
_PARTICLE = r"(?:de|van|von|der|bin|binti|al|da|di|le)[ \t]+"
_LATIN_NAME = rf"{_LATIN_WORD}(?:[ \t]+(?:{_PARTICLE})?{_LATIN_WORD}){{1,3}}"
_RELATIVE = (
    r"父亲|母亲|爸爸|妈妈|丈夫|太太|妻子|老公|老婆|先生|儿子|女儿"
    r"|父親|母親|兒子|女兒|老豆|阿爸|阿媽|朋友|客户|客戶"
)
_SAID = [
    re.compile(rf"\bon behalf of[ \t]+(?:my[ \t]+\w+,?[ \t]+)?(?P<v>{_LATIN_NAME})"),
    re.compile(rf"(?:替|代|帮|幫)(?:我)?(?:的)?(?:{_RELATIVE})\s*(?P<v>{_HAN_NAME})(?=[，,。.\s发發写寫]|$)"),
    re.compile(r"^\s*(?:name|client name|full name)\s*:\s*(?P<v>[^\n,;]{2,60})", re.IGNORECASE | re.M),
    re.compile(r"^\s*(?:姓名|名字|客户姓名|客戶姓名)\s*[:：]\s*(?P<v>[^\n,;，；]{1,30})", re.M),
    re.compile(rf"\b[Mm]y name is\s+(?P<v>{_LATIN_WORD}(?:[ \t]+{_LATIN_WORD}){{0,3}})"),
    re.compile(rf"(?:我是|我叫|本人)\s*(?P<v>{_HAN_NAME})(?=[，,。.\s]|$)"),
]
_SIGN_OFF = re.compile(
    r"^(?:(?:best|kind|warm)?\s*regards|thanks?(?: you)?|cheers|best|sincerely"
    r"|yours\b.*|dear\b.*|hi\b.*|hello\b.*"
    r"|谢谢|謝謝|此致|敬礼|敬禮|顺祝|順祝|唔該.*|多谢|多謝)[,，.!！]*$",
    re.IGNORECASE,
)
# A signature may start with a dash ("—— 李浩") and be a surname with a title ("張先生").
_DASH = r"(?:[-\u2014\u2013~]+\s*)?"
_HAN_SIGNATURE = re.compile(
    rf"^{_DASH}(?P<v>{_HAN_NAME}|[{_SURNAMES}](?:先生|小姐|女士|太太))\s*(?:謹啟|谨启|敬上|謹上|上|启|啟)?$"
)
_LATIN_SIGNATURE = re.compile(rf"^{_DASH}(?:(?:mr|mrs|ms|dr)\.?\s+)?(?P<v>{_LATIN_NAME})\s*(?:\([^)]*\))?$")


def name_of(own: str, display_name: str) -> tuple[str | None, str]:
    """The claimant's name and where it came from."""
    for pattern in _SAID:
        match = pattern.search(own)
        if match:
            return match.group("v").strip(), match.group(0).strip()
    display = display_name.strip().strip('"')
    if not re.search(r"[^\W\d_]", display):
        display = ""  # a QQ number or a phone number, not a name
    signed = _signature_name(own)
    if signed and _may_replace(display, signed):
        return signed, "signature"
    return (display, "From header") if display else (None, "")


def _signature_name(own: str) -> str | None:
    """A full name on one of the last short lines, below the text and above contact details; never
    the first line, which greets ("安安", "Hi")."""
    lines = [line.strip() for line in own.splitlines() if line.strip()][1:]
    for line in reversed(lines[-6:]):
        if len(line) > 40:
            return None
        for pattern in (_HAN_SIGNATURE, _LATIN_SIGNATURE):
            match = pattern.match(line)
            if match and not _SIGN_OFF.match(line):
                return match.group("v")
    return None


def _may_replace(display: str, signed: str) -> bool:
    """A Chinese signature beats an English display name; a Latin one must share a word with it
    ("mike t" -> "Mike Tan") or be spelt by its initials, so a place or company line never does."""
    if re.search(f"(?:{_TITLES})$", signed):
        return not display  # "張先生" is a name only where nothing better is given
    if not re.search(r"[A-Za-z]", display) or re.search(r"[\u4e00-\u9fff]", signed):
        return True
    if any(word in display.lower() for word in re.findall(r"[a-z'\u2019-]{2,}", signed.lower())):
        return True
    initials = "".join(word[0] for word in signed.split()).lower()
    return len(initials) > 1 and initials in display.lower().split()  # "Kah Meng" signs for "KM Wong"
