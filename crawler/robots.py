"""robots.txt within bounds: only its first ``HRA_ROBOTSTXT_MAXSIZE`` bytes (500 KiB) count.

A robots.txt of many megabytes (19 MB were seen) made Protego's parse take more than a
gigabyte. Google's rule is applied instead: the first 500 KiB of the file are parsed and the
rest is treated as absent (a rule after the cap is ignored, a rule before it is obeyed).

* `RobotsSizeLimit` (an extension) stops the download of a robots.txt once more than the cap
  has arrived (``StopDownload(fail=False)`` on ``bytes_received``: Scrapy hands on the part
  received) and says so once per host;
* `CappedRobotParser` (``ROBOTSTXT_PARSER``) parses at most the cap, cut at the last line break
  before it (a half line such as ``Disallow: /priv`` would forbid more than the site meant).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import StopDownload
from scrapy.robotstxt import ProtegoRobotParser

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

#: Google's limit: "content after the maximum file size is ignored".
ROBOTSTXT_MAXSIZE = 500 * 1024


def cap_robotstxt(body: bytes, limit: int = ROBOTSTXT_MAXSIZE) -> bytes:
    """The part of a robots.txt that is obeyed: at most `limit` bytes, ending at a line break
    when it had to be cut (0: no limit)."""
    if not limit or len(body) <= limit:
        return body
    head = body[:limit]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return head[:end + 1] if end >= 0 else b""


def _limit(crawler: Crawler) -> int:
    return crawler.settings.getint("HRA_ROBOTSTXT_MAXSIZE", ROBOTSTXT_MAXSIZE)


def _is_robots_request(request: Request) -> bool:
    return bool(request.meta.get("dont_obey_robotstxt")) and \
        urlsplit(request.url).path == "/robots.txt"


class CappedRobotParser(ProtegoRobotParser):
    """``ROBOTSTXT_PARSER``: Protego over the first ``HRA_ROBOTSTXT_MAXSIZE`` bytes only."""

    @classmethod
    def from_crawler(cls, crawler: Crawler, robotstxt_body: bytes) -> CappedRobotParser:
        return cls(cap_robotstxt(robotstxt_body, _limit(crawler)), crawler.spider)


class RobotsSizeLimit:
    """Stop downloading a robots.txt past the cap (the parser reads only that much anyway)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.limit = _limit(crawler)
        self.told: set[str] = set()
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsSizeLimit:
        return cls(crawler)

    def bytes_received(self, data: bytes, request: Request, **_: Any) -> None:
        if not self.limit or not _is_robots_request(request):
            return
        got = request.meta.get("hra_robots_bytes", 0) + len(data)
        request.meta["hra_robots_bytes"] = got
        if got <= self.limit:
            return
        host = urlsplit(request.url).netloc
        if host not in self.told:
            self.told.add(host)
            from crawler.context import context

            context(self.crawler).warn(
                f"{request.url} is larger than {self.limit // 1024} KiB: only its first "
                f"{self.limit // 1024} KiB are obeyed, the rest is ignored (as Google does; "
                "HRA_ROBOTSTXT_MAXSIZE)")
        raise StopDownload(fail=False)
