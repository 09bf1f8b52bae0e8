"""Flags and classification over normalized (simplified) text: plain functions, no I/O.

* `has_placeholders`: anonymized figures and names (xx, XX, x个, **).
* `has_mojibake`: real damage only: U+FFFD, private-use characters, ``?`` standing for lost
  characters inside a CJK run (not a question mark: ``看病难不难?这是``), 锟斤拷 and UTF-8 read
  as GBK or Latin-1.
* `is_health_report`: a health-work document (工作总结/要点/讲话/汇报/计划… of the health sector),
  not a 五四 speech, an internship report, a recipe or another sector's report.
* `doc_type`: one of `DOC_TYPES`.
* `report_year`: the year the report is about.
"""

from __future__ import annotations

import re
from collections import Counter

from archive.text.normalize import CJK

DOC_TYPES = {
    "speech": "讲话、致辞、发言、主持词 (会议讲话)",
    "summary": "工作总结、年终总结、工作回顾",
    "plan": "工作要点、工作计划、实施方案、规划、工作安排",
    "report": "工作汇报、进展情况报告、述职报告、调研报告",
    "interview": "访谈、答记者问、局长谈工作",
    "notice": "通知、通报、公告、公示",
    "other": "其他卫生健康工作文稿",
}

_PLACEHOLDER = re.compile(
    r"(?<![A-Za-z])(?:[xX]{2,}|[xX](?=[个名家例次所大类项条万亿余%.\d]))(?![A-Za-z])|\*{2,}"
)
_MOJIBAKE = re.compile("\ufffd|[\ue000-\uf8ff]|锟斤拷|烫烫烫|屯屯屯")
#: ``?`` between CJK characters: a lost character, or a question mark (NFKC made ？ a ``?``).
_CJK_QUESTION = re.compile(rf"(?<=[{CJK}])\?+(?=[{CJK}])")
#: What a question holds: particles at its end, question words anywhere in the clause.
_QUESTION_END = re.compile(r"[吗呢吧么嘛啊呀哪谁何几否]$")
_QUESTION_WORD = re.compile(
    r"什么|怎么|怎样|怎能|如何|为何|为什么|为啥|哪|谁|多少|几[个时天年种]|是否|是不是|能否|可否|"
    r"有没有|难道|岂|何|多[难大久远长高少重快深贵]|(.)[不没]\1|(..)[不没]\2"
)
#: Where the sentence before a ``?`` starts.
_SENTENCE_START = re.compile(r"[.!?。！？\n]")
#: Runs that may be UTF-8 read as GBK (鍖婚櫌) or as Latin-1/cp1252 (å«ç”Ÿ).
_CJK_RUN = re.compile(rf"[{CJK}]{{4,}}")
#: Bytes that never occur in UTF-8, wherever it is cut: C0, C1, F5-FF; a lead byte followed by
#: no continuation byte; a continuation byte after an ASCII byte; four continuation bytes.
_NEVER_UTF8 = re.compile(
    rb"[\xc0\xc1\xf5-\xff]|[\xc2-\xf4][\x00-\x7f\xc0-\xff]|[\x00-\x7f][\x80-\xbf]|[\x80-\xbf]{4}")
_LATIN1_RUN = re.compile(r"[\u00c0-\u00ff][\u0080-\u00ff\u0152-\u0178\u02c6-\u02dc\u2013-\u2122]{2,}")

# Health-sector vocabulary, weighted.
_HEALTH_TERMS = {
    "卫生健康": 3, "卫健": 3, "医共体": 3, "医联体": 3, "公共卫生": 3, "疾控": 3, "疾病预防控制": 3,
    "医改": 3, "医药卫生体制": 3, "家庭医生": 3, "分级诊疗": 3, "基层医疗": 3, "卫生院": 2,
    "医疗机构": 2, "公立医院": 2, "中医药": 2, "妇幼": 2, "计生": 2, "计划生育": 2, "爱国卫生": 3,
    "健康中国": 3, "疫情防控": 2, "传染病": 2, "慢性病": 2, "医养结合": 3, "卫生监督": 3,
    "医疗服务": 2, "医疗卫生": 2, "医院": 1, "医疗": 1, "健康": 1, "卫生": 1, "疫苗": 1,
    "医保": 1, "药品": 1, "诊疗": 1, "医务人员": 2, "医护": 1, "患者": 1, "就医": 1, "村医": 2,
    "乡村医生": 2, "卫生室": 2, "健康扶贫": 3, "老龄": 1, "托育": 1, "婴幼儿照护": 2, "职业病": 2,
}
_HEALTH_RE = re.compile("|".join(sorted(_HEALTH_TERMS, key=len, reverse=True)))
_TITLE_HEALTH = re.compile(
    r"卫生|卫健|健康|医疗|医院|医共体|医联体|医改|疾控|疾病|中医|妇幼|计生|疫情|防疫|医保|药|"
    r"爱卫|爱国卫生|公卫|传染病|老龄|托育|保健|护理|诊疗|医养|医务|医师|卫监|血站|急救|"
    r"计划生育|人口|职业病"
)
_GENRE = re.compile(
    r"总结|要点|计划|讲话|致辞|发言|主持词|汇报|报告|方案|规划|情况|工作|会议|访谈|答记者问|"
    r"谈|通知|通报|意见|述职|安排|思路|打算|部署|回顾|举措|经验|做法|成效|进展|年报"
)
_NOT_WORK_REPORT = re.compile(
    r"实习|见习|五四|青年节|演讲稿|征文|作文|读后感|观后感|心得体会|学习心得|自我鉴定|个人简历|"
    r"求职|食谱|做法大全|怎么做|小窍门|辟谣|谣言|养生|减肥|减重|护肤|广告|招聘|招标|中标|采购公告|"
    r"手抄报|黑板报|主题班会|教案|课件|试题|考试题|答案"
)
_SPEECH_OPENERS = re.compile(r"^(?:同志们|各位(?:领导|代表|来宾|同志)|尊敬的)")

_TYPE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("interview", re.compile(r"访谈|答记者问|专访|局长谈|主任谈|书记谈|县区市.*谈|谈.{0,12}工作|对话")),
    ("plan", re.compile(r"印发.{0,40}(?:要点|计划|方案|规划)")),
    ("speech", re.compile(r"讲话|致辞|发言|主持词|讲稿|报告会上|会议上的|动员会上|座谈会上")),
    ("notice", re.compile(r"通知|通报|公告|公示|通告|简报")),
    ("summary", re.compile(r"总结|回顾|年终|工作情况(?!汇报|报告)|年度工作(?!计划|要点|安排)")),
    ("plan", re.compile(r"要点|计划|方案|规划|安排|思路|打算|部署")),
    ("report", re.compile(r"汇报|报告|述职|进展|调研|情况")),
)

_YEAR = re.compile(r"((?:19|20)\d\d)\s*年")


def has_placeholders(text: str) -> bool:
    return bool(_PLACEHOLDER.search(text))


def has_mojibake(text: str) -> bool:
    """Real damage in `text`: never a question mark used as punctuation."""
    if _MOJIBAKE.search(text):
        return True
    if any(_lost_character(text, m) for m in _CJK_QUESTION.finditer(text)):
        return True
    return _misdecoded(text)


def _lost_character(text: str, m: re.Match[str]) -> bool:
    """A ``?`` inside a CJK run that is no question mark: the sentence before it asks nothing."""
    start = m.start()
    before = text[max(0, start - 60) : start]
    cut = max((c.end() for c in _SENTENCE_START.finditer(before)), default=0)
    sentence = before[cut:]
    return not (_QUESTION_END.search(sentence) or _QUESTION_WORD.search(sentence))


def _misdecoded(text: str) -> bool:
    """UTF-8 bytes decoded as GBK or Latin-1: re-encoding a run gives valid UTF-8 CJK text."""
    for m in _LATIN1_RUN.finditer(text):
        raw = b"".join(_cp1252_byte(c) for c in m.group(0))  # 81 8D 8F 90 9D may be lost
        decoded = raw.decode("utf-8", errors="replace")
        if len(re.findall(f"[{CJK}]", decoded)) >= max(2, 2 * decoded.count("\ufffd")):
            return True
    return any(_utf8_cjk(m.group(0), "gbk") for m in _CJK_RUN.finditer(text))


def _cp1252_byte(char: str) -> bytes:
    return bytes([ord(char)]) if ord(char) < 256 else char.encode("cp1252", errors="ignore")


def _utf8_cjk(run: str, codec: str) -> bool:
    try:
        raw = run.encode(codec)
    except UnicodeEncodeError:
        return False
    if _NEVER_UTF8.search(raw, 2, len(raw) - 2):
        return False  # in every slice tried below: none can decode (the common case, fast)
    for a, b in ((0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (0, 2)):
        try:
            decoded = raw[a : len(raw) - b].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return len(re.findall(f"[{CJK}]", decoded)) >= 2
    return False


def health_score(title: str, text: str) -> float:
    """Weighted health-sector terms per 1,000 characters of text, plus title evidence."""
    hits = sum(_HEALTH_TERMS[m.group(0)] for m in _HEALTH_RE.finditer(text[:20000]))
    per_k = hits * 1000 / max(len(text[:20000]), 200)
    return per_k + (15 if _TITLE_HEALTH.search(title or "") else 0)


def is_health_report(title: str, text: str) -> bool:
    """A health-sector work document (report, summary, plan, speech...), not other genres."""
    title = title or ""
    if _NOT_WORK_REPORT.search(title):
        return False
    if len(text) < 200:
        return False
    score = health_score(title, text)
    genre = bool(_GENRE.search(title)) or bool(
        re.search(r"同志们|现将.{0,20}(?:汇报|报告)如下|工作总结|工作要点|今年以来|年以来", text[:3000])
    )
    if not genre:
        return False
    if _TITLE_HEALTH.search(title):
        return score >= 20
    return score >= 30


def doc_type(title: str, text: str, health_report: bool = True) -> str:
    """Classify into DOC_TYPES from the title, then the opening of the text.

    The types are those of health-work documents: anything else is "other"."""
    if not health_report:
        return "other"
    title = title or ""
    for name, pattern in _TYPE_RULES:
        if pattern.search(title):
            return name
    head = text[:300]
    if _SPEECH_OPENERS.search(head):
        return "speech"
    for name, pattern in _TYPE_RULES:
        if pattern.search(head[:80]):
            return name
    return "other"


def report_year(title: str, text: str) -> int | None:
    """The year the report is about: the title's year, else the year the text names most
    (in its opening or more than once). Never guessed from the publication date."""
    m = _YEAR.search(title or "")
    if m:
        return int(m.group(1))
    years = Counter(int(m.group(1)) for m in _YEAR.finditer(text[:6000])
                    if not text.startswith("版", m.end()))
    head = {int(y) for y in _YEAR.findall(text[:300])}
    # Named in the opening or more than once: a passing mention (a 2023年版 catalogue) is not.
    years = Counter({y: n for y, n in years.items() if n >= 2 or y in head})
    if years:
        top = max(years.values())
        # Among the most frequent, the earliest is usually the year reported on.
        return min(y for y, n in years.items() if n == top)
    return None
