"""The collecting half of hra: Scrapy spiders that feed web pages into the archive.

Layout
* ``settings``: polite Scrapy defaults (robots.txt, AutoThrottle, 2 requests per host, ...).
* ``sources`` / ``sources.toml``: the named sources `hra crawl NAME` knows.
* ``spiders``: ``site`` (generic) and ``gov`` (government CMS columns): link discovery only.
* ``links``: pagination and article-link discovery (下一页, index_1.html, createPageHTML(...)).
* ``middlewares``: encoding re-detection, incremental skips, JS-challenge hosts, non-HTML,
  retry backoff, page budget.
* ``frontier``: a crash-safe SQLite scheduler (the per-source JOBDIR) so kill -9 resumes.
* ``downloader``: Scrapy's downloader with the per-host concurrency limit enforced for bursts.
* ``pipelines`` / ``page_workers``: every fetched page goes through
  `archive.page_processing.process_page` (in worker processes, ``page_workers``) and
  `archive.importer.store_result`; nothing about extraction lives in the spiders. A source's
  own title/date/body CSS selectors are passed to it (`archive.text.selectors.ExtractOptions`);
  its ``links`` selector is the spiders'.
* ``context`` / ``progress``: per-crawler state, counts and the JSON-lines events for `hra crawl`.
* ``runner``: the child-process entry point `hra crawl` starts (Scrapy's reactor cannot restart).
* ``demo``: the bundled demo site `hra demo` serves and crawls.

Nothing here is imported by `hra` at start-up; Scrapy is imported only when a crawl runs. No
click or rich either: what `hra crawl` shows is the CLI's (`archive.crawl_display`).
"""
