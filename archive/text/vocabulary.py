"""The extractor's vocabulary: every tag set, class-name pattern and text pattern in one place.

Like trafilatura's ``xpaths.py``: the stages (`htmlprocessing`, `main_extractor`, `metadata`)
hold the logic, this module the words they look for. Patterns run on pages already passed
through `normalize_markup` (simplified script, NFKC), so the Chinese vocabulary is simplified
only.
"""

from __future__ import annotations

import re

from archive.text.normalize import CJK

# ----------------------------------------------------------------------------------------------
# Tags

#: Elements that start a new line of text (`htmlprocessing.iter_lines`).
BLOCK_TAGS = frozenset(
    ["address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog",
     "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
     "h4", "h5", "h6", "header", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section",
     "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "caption", "summary"]
)
#: Elements that can hold an article (a paragraph or an inline wrapper cannot).
CONTAINER_TAGS = frozenset(
    ("div", "td", "th", "article", "section", "main", "body", "blockquote", "center", "form", "dd",
     "li", "table")
)
#: Elements dropped before the page is cut into lines.
DROP_TAGS = (
    "script", "style", "noscript", "iframe", "template", "svg", "canvas", "select", "option",
    "button", "input", "textarea", "object", "embed", "video", "audio", "map", "head",
)
#: Elements hidden from readers (dropped too).
HIDDEN_XPATH = (
    "//*[@hidden or contains(translate(@style, ' ', ''), 'display:none')"
    " or contains(translate(@style, ' ', ''), 'visibility:hidden')]"
)
#: Elements that are navigation by their tag alone.
UNLIKELY_TAGS = ("nav", "footer", "aside", "header")
#: Elements whose lines belong to a list of items (`Line.in_list`).
LIST_ITEM_TAGS = ("li", "dd", "dt")
#: Heading tags and their priority as title candidates (lower is better); elements named
#: ``title``/``biaoti`` among `TITLE_CLASS_TAGS` rank `TITLE_CLASS_PRIORITY`.
HEADING_PRIORITY = {"h1": 0, "h2": 1, "h3": 3}
TITLE_CLASS_WORDS = ("title", "biaoti")
TITLE_CLASS_TAGS = ("div", "p", "span", "td", "strong")
TITLE_CLASS_PRIORITY = 2

#: Scripts, styles, comments and noscript blocks (often most of a page's bytes).
NON_CONTENT = re.compile(
    r"<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<noscript\b.*?</noscript\s*>",
    re.DOTALL | re.IGNORECASE,
)
#: An XML declaration, which lxml refuses in str input.
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")

# ----------------------------------------------------------------------------------------------
# class / id names

#: Navigation, sidebars, footers, comment and share boxes...
UNLIKELY = re.compile(
    r"nav|menu|footer|foot|header|top-?bar|sidebar|side|aside|hot|rank|related|relate|recommend|"
    r"tuijian|xiangguan|remen|comment|pinglun|reply|share|fenxiang|crumb|bread|position|location|"
    r"weizhi|copyright|banquan|banner|advert|\bad\b|ads|gg|login|search|pager|pagination|"
    r"prev|next|friend|link|tool|widget|qrcode|erweima|popup|modal|tags?\b|keyword",
    re.IGNORECASE,
)
#: ...unless the name also says article (``content``, ``TRS_Editor``, ``zhengwen``...).
LIKELY = re.compile(
    r"article|content|zoom|TRS_Editor|TRS_UEDITOR|Custom_UnionStyle|main|body|text|detail|"
    r"post|entry|neirong|zhengwen|wenzhang|conter|con\b|news_?con|view|fontzoom|ccontent",
    re.IGNORECASE,
)
#: The site's brand in its header (logo, site name).
BRAND = re.compile(r"site-?_?name|site-?_?title|webname|logo(?!ut)|brand", re.IGNORECASE)
#: Account links (登录/退出) that are never the site's name, whatever their class or id.
ACCOUNT = re.compile(r"log_?in|log_?out|sign_?in|sign_?out|登录|登陆|退出|注销|注册", re.IGNORECASE)

# ----------------------------------------------------------------------------------------------
# Lines

WS = re.compile(r"\s+")
CJK_RE = re.compile(f"[{CJK}]")
#: Sentence punctuation: prose has it, navigation does not. Counted on `fold_width` of a line
#: (so ，；！？ count as ,;!?; colons never count, as before the text kept its widths).
SENTENCE_MARKS = "。、,;!?"
#: Marks that make a paragraph count as prose on a list page (`main_extractor.is_list_page`),
#: counted on `fold_width` of a paragraph.
LIST_PROSE_MARKS = "。,"

#: Lines that are site furniture wherever they stand.
BOILERPLATE = re.compile(
    r"^(?:[(（]?本文|原文)?(?:链接|网址|地址)\s*[:：]\s*https?://"
    r"|版权(?:声明|所有)|copyright\s|©|\bICP\b|ICP备|ICP证|公网安备|网安备"
    r"|^声明\s*[:：]|^免责声明|转载请注明|转载此文|如有侵权|侵犯了您的"
    r"|下载地址|word下载|pdf\s*下载|^本文\s*(?:word|pdf)|点击下载|下载全文|^附件下载"
    r"|^上一篇|^下一篇|^上一条|^下一条|^返回(?:顶部|首页|列表)|^【?打印(?:本页|此页)?】?$"
    r"|^【?关闭(?:窗口|本页)?】?$|^分享到|^扫一扫|^收藏本文|^收藏《"
    r"|留言与评论|发表评论|^验证码|^评论\s*[:：(（]|^阅读\s*[:：]\s*\d*\s*评论"
    r"|感谢您对本站的认可|^本文发布于|^[(（\[【]?\s*(?:责任编辑|编辑|本文来源)\s*[:：]|^字号\s*[:：]|^字体"
    r"|^【字(?:号|体)|^当前位置|^您的位置|^您现在的位置|^所在位置|^首页\s*[>＞»]"
    r"|^网站(?:简介|地图)|^主办单位|^承办单位|^技术支持"
    r"|^联系我们|^站长|^Powered by|^浏览次数|^访问量|^点击数",
    re.IGNORECASE,
)
#: "下面是小编为大家整理的…供大家参考" intros of content sites.
XIAOBIAN = re.compile(
    r"(?:下面|以下|这里|本文)是?(?:小编|本站|本网)[^。!\n]{0,60}?"
    r"(?:整理|收集|搜集|精心|准备|带来|分享|推荐|编辑)[^。!\n]{0,60}?"
    r"(?:参考|借鉴|阅读|帮助|收藏|分享|欢迎)[^。!\n]{0,30}?[。!]?"
)
#: Markers after which nothing belongs to the article.
END_MARKERS = re.compile(
    r"^[【\[]?\s*(?:相关(?:文章|阅读|推荐|链接|文档|范文|新闻)"
    r"|热门(?:文档|文章|推荐|范文)|猜你喜欢|推荐阅读"
    r"|延伸阅读|更多(?:相关|精彩|范文)|文章搜索|精彩推荐|为你推荐|大家都在看|最新文章"
    r"|本文链接|版权声明|留言与评论)\s*[】\]]?\s*[:：]?\s*$"
)
#: A 目录/提纲 block (it repeats the headings of the text) and the dots that close it.
OUTLINE = re.compile(r"^(?:目录|提纲|目录/提纲|内容提要)\s*[:：]?\s*[.…·]*$")
OUTLINE_END = re.compile(r"[.…·]{2,}")
#: Source / author lines above the text.
SOURCE_LINE = re.compile(r"^[|｜\s]*(?:来源|作者|发布者|发布机构|信息来源|文章来源|发布单位)\s*[:：]")

# ----------------------------------------------------------------------------------------------
# Dates

DATE = r"((?:19|20)\d\d)\s*(?:[-/.年])\s*(\d{1,2})\s*(?:[-/.月])\s*(\d{1,2})\s*日?"
DATE_RE = re.compile(DATE)
#: Words that a date line holds (a cheap test before `DATE_LABEL`).
DATE_HINTS = ("时间", "日期", "发布", "更新", "date", "Date", "DATE", "时间")
#: A labelled date: 发布时间: 2023-10-08.
DATE_LABEL = re.compile(
    r"(?:(?<!成文)(?<!生成)(?:发布时间|更新时间|发表时间|发布日期|发文日期|发布于|更新于|时间|日期)|"
    r"PubDate|Date)\s*[:：]?\s*"
    + DATE,
    re.IGNORECASE,
)
#: Dates in government URLs (``/t20231008_123.html``, ``/2023-10/08/``...).
URL_DATES = (
    re.compile(r"/t((?:19|20)\d\d)(\d\d)(\d\d)_\d+"),
    re.compile(r"/((?:19|20)\d\d)[-_]?(\d\d)/(\d\d)/"),
    re.compile(r"/((?:19|20)\d\d)(\d\d)(\d\d)/"),
    re.compile(r"[/_-]((?:19|20)\d\d)-(\d\d)-(\d\d)[/_.-]"),
)

# ----------------------------------------------------------------------------------------------
# Meta tags (names lower-cased)

#: A date line without a label beside the source: 2018-10-29 20:57:34 来源: 央视网,
#: 2005-01-06 08:13更新 来源: ...
DATE_SOURCE_LINE = re.compile(
    r"^\s*" + DATE + r"\s*(?:\d{1,2}:\d\d(?::\d\d)?)?\s*(?:更新|发布)?\s*[|｜]?\s*(?:来源|作者|稿源)"
)
DATE_METAS = (
    "pubdate", "publishdate", "publish_date", "article:published_time", "og:release_date",
    "dc.date", "dc.date.issued", "firstpublishedtime", "published_time", "date",
)
#: The 政府网站发展指引 meta tags (and a few common ones) kept on `Extracted.meta`.
GOV_METAS = frozenset({"sitename", "sitedomain", "columnname", "columntype", "articletitle",
                       "pubdate", "contentsource", "keywords", "author", "description"})
TITLE_META = "articletitle"
SITE_METAS = ("sitename", "og:site_name")
COLUMN_METAS = ("columnname", "column")
CONTENT_SOURCE_META = "contentsource"

# ----------------------------------------------------------------------------------------------
# Titles, site names, columns, attachments

#: Title decorations: 【精选推荐】, (全文完整), (3篇)...
DECOR_WORDS = (
    r"精选推荐|精选|推荐|完整版|全文完整|完整|全文|最新|热门|优秀|范文|通用|合集|汇编|大全|可编辑|"
    r"word|WORD|Word|"
    r"荐|优选|原创|必备|免费|下载|范本|模板|附全文|图文|\d+篇|[一二三四五六七八九十]+篇"
)
DECOR = re.compile(
    rf"[【\[]\s*(?:{DECOR_WORDS})[^】\]]{{0,8}}[】\]]"
    rf"|[(（]\s*(?:[^()（）]{{0,6}}(?:{DECOR_WORDS})[^()（）]{{0,6}})\s*[)）]"
)
#: What separates a title from the site name and column in <title>.
TITLE_SEP = re.compile(r"\s*(?:_|\||｜|——|\s[-–—]\s|(?<![0-9A-Za-z])[-–](?![0-9A-Za-z]))\s*")
TITLE_SEP_GROUP = re.compile(f"({TITLE_SEP.pattern})")
#: Separators that may belong to the title itself (书记市长这一周 | 奋马扬鞭争春色).
INNER_SEPS = ("|", "｜", "——")
#: Markup left in a meta tag's content (<div>...</div>): a title is text.
MARKUP = re.compile(r"</?[A-Za-z][^<>]*>")
#: Characters stripped from both ends of a cleaned title.
TITLE_STRIP = " -_|·:：－＿｜"
#: Words of site names.
SITE_WORDS = re.compile(r"网|站|委员会|政府|局|中心|在线|门户|范文|文库|\.com|\.cn")
#: A breadcrumb line: 当前位置: 首页 > 工作动态, or 首页 > ...
BREADCRUMB_LABEL = re.compile(r"^(?:当前位置|您的位置|您现在的位置|所在位置|位置)\s*[:：]")
BREADCRUMB_ARROW = re.compile(r"[>＞»›]")
BREADCRUMB_HOME = ("首页", "网站首页")
BREADCRUMB_SEP = re.compile(r"\s*(?:>>|>|＞|»|›|/)\s*")
BREADCRUMB_LEAD = re.compile(r"^.*?[:：]")
BREADCRUMB_SKIP = ("正文", "首页", "网站首页")
#: Links to files (attachments are recorded, never fetched).
ATTACHMENT = re.compile(r"\.(?:pdf|docx?|xlsx?|wps|et|zip|rar|7z|ofd|pptx?)(?:$|\?)", re.IGNORECASE)

# ----------------------------------------------------------------------------------------------
# Official document metadata (政府信息公开: `archive.text.official`, `archive.text.tables`)


def _spaced(word: str) -> str:
    """A label as pages type it: 索 引 号, 名　　称 (spaces between its characters)."""
    return r"\s*".join(word)


#: Labels of the record fields, longest first: issuer, doc_number, written.
ISSUER_LABELS = ("发布机构", "发文机关", "发文单位", "发布单位", "制发机关", "发文机构", "成文机关",
                 "所属机构", "发布部门")
DOC_NUMBER_LABELS = ("发文字号", "文件编号", "发文文号", "文号")
WRITTEN_LABELS = ("成文日期", "成文时间", "生成日期")
#: Labels of the publication date in a metadata table (`archive.text.official`).
PUBLISHED_LABELS = ("发布日期", "发布时间", "公开日期")
#: Other labels of 信息公开 metadata tables (they end a value and mark such a table).
OTHER_OFFICIAL_LABELS = ("信息索引号", "索引号", "发布日期", "发布时间", "公开日期", "发文日期",
                         "主题分类", "组配分类", "体裁分类", "服务对象分类", "公开方式", "公开范围",
                         "公开时限", "有效性", "时效性", "文件名称", "名称", "标题", "关键词",
                         "主题词", "信息来源")
_ALL_OFFICIAL = sorted(ISSUER_LABELS + DOC_NUMBER_LABELS + WRITTEN_LABELS + OTHER_OFFICIAL_LABELS,
                       key=len, reverse=True)
#: Any official label, with its colon if any (``索 引 号：``); group ``label``.
OFFICIAL_LABEL = re.compile(
    r"[\[【]?(?P<label>" + "|".join(_spaced(w) for w in _ALL_OFFICIAL) + r")[\]】]?\s*[:：]?\s*"
)
#: A 公文 number: 遵卫健发〔2023〕12号, 国卫办医发[2023]12号, 黔府办函（2024）3号.
DOC_NUMBER = re.compile(
    rf"[{CJK}A-Za-z]{{1,16}}\s*[〔\[［(（【]\s*(?:19|20)\d\d\s*[〕\]］)）】]\s*第?\s*\d{{1,5}}\s*号"
)
#: Values that mean "none" in a metadata table.
NO_VALUE = frozenset({"无", "暂无", "-", "--", "—", "/", "空"})
