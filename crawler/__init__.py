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
* ``pipelines`` / ``analysis``: every fetched page goes through `archive.pipeline.process_page`
  (in worker processes) and `archive.importer.store_result`; nothing about extraction lives in
  the spiders. ``selectors``: a source's own title/date/body CSS selectors.
* ``context`` / ``progress``: per-crawler state, counts and the JSON-lines events for `hra crawl`.
* ``runner``: the child-process entry point `hra crawl` starts (Scrapy's reactor cannot restart).
* ``display``: what `hra crawl` shows (live panel on a terminal, log lines otherwise).
* ``demo``: the bundled demo site `hra demo` serves and crawls.

Nothing here is imported by `hra` at start-up; Scrapy is imported only when a crawl runs.
"""
