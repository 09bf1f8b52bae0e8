"""The bundled demo site `hra demo` serves on 127.0.0.1 and crawls.

``site/`` holds the pages (written for this project; the reports are invented but realistic):
a portal home page linking to five sections modelled on the kinds of sites reports come from,

* ``/fanwen/``   a 范文 collection (clutter: 更新时间, 本文链接, word/PDF download lines, 相关文章),
  with a paginated list (下一页 -> list_2.html), an off-topic 五四 speech and a repost;
* ``/wenmi/``    a 文秘 site in Traditional script with pinyin annotations (衛(wèi)生) whose
  report is truncated for non-members (未完,全文共…字,当前仅显示…字);
* ``/kan/``      a magazine site (县区卫健局长谈重点工作);
* ``/jianbiao/`` a 范文网 with a "下面是小编为大家整理的…" intro, XX placeholders, an
  internship report (off-topic), a GBK page without any charset declaration, and a repost
  served with a wrong ``charset=utf-8`` header on GB18030 bytes;
* ``/wjw/``      a city health commission (政府网站发展指引 meta tags, TRS_Editor body, a column
  paginated by ``createPageHTML(3, i, "index", "html")``, a notice that is not a report);
* ``/private/``  disallowed by ``robots.txt`` (never fetched).
"""

from crawler.demo.server import SITE_DIR, DemoServer

__all__ = ["SITE_DIR", "DemoServer"]
