"""Scrapy settings of the hra crawler (``scrapy.cfg`` points here; `hra crawl` loads them too).

Polite by default: robots.txt obeyed, AutoThrottle on, at most 2 concurrent requests per host,
a User-Agent that names the project and the operator's contact (``HRA_CONTACT``), 5xx and
timeouts retried with backoff (4xx never), 20 MiB per response, robots.txt read up to
500 KiB (Google's limit), 2000 links per page, redirects bounded (and kept on the source's
hosts and ports).

hra's own settings (``-s NAME=VALUE`` with scrapy, or `hra crawl` options):

==========================  =====================================================================
HRA_DATA_DIR                archive directory (default: $HRA_DATA_DIR, else the platform dir)
HRA_WARC_DIR                a crawl node for another machine: archived pages go to a WARC file
                            per job in this directory (`hra import` on the archive host), not
                            to the archive; HRA_DATA_DIR keeps the node's runs and jobs
HRA_CONTACT                 an e-mail or URL for site operators, put in the User-Agent
HRA_DEPTH                   link hops from a start page (pagination does not count), default 3
HRA_MAX_PAGES               requests per source and run, 0 = no limit (default 1000)
HRA_MAX_LIST_PAGES          pages followed along one list's pagination (default 50)
HRA_REFRESH                 refetch archived URLs with conditional requests (default False)
HRA_KEEP_OFF_TOPIC          archive off-topic articles too, flagged (default False)
HRA_RETRY_BACKOFF           first retry delay in seconds, doubled per retry (default 2)
HRA_RETRY_BACKOFF_MAX       longest retry delay (default 60)
HRA_INDEX_EVERY             standalone `scrapy crawl`: update the search index after this many
                            stored pages or a minute (default 1000; `hra crawl`: its parent)
HRA_WORKERS                 processes running the text pipeline ("auto": CPUs - 1, 1..4; 0: inline)
HRA_JOB_WAIT                seconds to wait for another process to let go of a source's job (60)
HRA_MAX_LINKS_PER_PAGE      links taken from one page, in page order (2000; 0 = no limit); the log
                            says when a page had more
HRA_MAX_ATTACHMENTS_PER_PAGE  attachments (PDF, Word, WPS, Excel) downloaded per article (10; 0: none)
HRA_ATTACHMENT_MAXSIZE      bytes of one attachment (50 MiB; env HRA_ATTACHMENT_MAXSIZE too)
HRA_ROBOTSTXT_MAXSIZE       bytes of a robots.txt that are obeyed (500 KiB; the rest is ignored)
HRA_PROGRESS_FD / _RUN_ID   set by `hra crawl` for its child process (events, run record)
==========================  =====================================================================
"""

from __future__ import annotations

import os

BOT_NAME = "hra"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# -- politeness ---------------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
ROBOTSTXT_USER_AGENT = "hra"
USER_AGENT = (
    "hra/{version} (health-report-archive: collects public health-work reports; "
    "contact: {contact})"
)
HRA_CONTACT = os.environ.get("HRA_CONTACT", "")
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
EXTENSIONS = {
    "scrapy.extensions.spiderstate.SpiderState": None,  # the frontier owns JOBDIR
    "crawler.robots.RobotsSizeLimit": 0,  # stop a robots.txt download past the cap
}
ROBOTSTXT_PARSER = "crawler.robots.CappedRobotParser"  # its first HRA_ROBOTSTXT_MAXSIZE bytes

# -- robustness ---------------------------------------------------------------------------------
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524]  # no 4xx: a 404 stays a 404
HRA_RETRY_BACKOFF = 2.0
HRA_RETRY_BACKOFF_MAX = 60.0
REDIRECT_MAX_TIMES = 5
METAREFRESH_MAXDELAY = 10
URLLENGTH_LIMIT = 2083

# -- the hra machinery --------------------------------------------------------------------------
REQUEST_FINGERPRINTER_CLASS = "crawler.frontier.CanonicalFingerprinter"
SCHEDULER = "crawler.frontier.FrontierScheduler"
DOWNLOADER = "crawler.downloader.PoliteDownloader"
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawler.middlewares.OriginOffsiteMiddleware": 50,
    "crawler.middlewares.ChallengeMiddleware": 105,
    "crawler.middlewares.IncrementalMiddleware": 70,
    "crawler.middlewares.BudgetMiddleware": 110,
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
    "crawler.middlewares.ContactUserAgentMiddleware": 500,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.HtmlOnlyMiddleware": 575,
    "crawler.middlewares.EncodingMiddleware": 585,
}
ITEM_PIPELINES = {"crawler.pipelines.ArchivePipeline": 300}
CONCURRENT_ITEMS = 16

HRA_DATA_DIR = os.environ.get("HRA_DATA_DIR") or None
HRA_WARC_DIR = os.environ.get("HRA_WARC_DIR") or None
HRA_DEPTH = 3
HRA_MAX_PAGES = 1000
HRA_MAX_LIST_PAGES = 50
HRA_REFRESH = False
HRA_KEEP_OFF_TOPIC = False
HRA_INDEX_EVERY = 1000
HRA_WORKERS = "auto"
HRA_JOB_WAIT = 60.0
HRA_MAX_LINKS_PER_PAGE = 2000
HRA_ROBOTSTXT_MAXSIZE = 500 * 1024
HRA_MAX_ATTACHMENTS_PER_PAGE = 10
HRA_ATTACHMENT_MAXSIZE = int(os.environ.get("HRA_ATTACHMENT_MAXSIZE") or 50 * 1024 * 1024)
HRA_PROGRESS_FD = None
HRA_RUN_ID = None
HRA_TRIGGER = "scrapy"

LOG_LEVEL = "INFO"
LOGSTATS_INTERVAL = 60.0
FEED_EXPORT_ENCODING = "utf-8"
