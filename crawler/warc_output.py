"""Crawl nodes: archived pages go to a WARC file per job instead of the archive.

With the setting ``HRA_WARC_DIR`` (a crawl on a Scrapyd node that is another machine), every
page the pipeline would archive (a report, an off-topic article with ``HRA_KEEP_OFF_TOPIC``) is
written to ``<HRA_WARC_DIR>/<source>-<job>-<start time>.warc.gz`` with hra's metadata record
(`archive.warc_export.write_page`): the archive host brings them in with
``hra import nodes/*.warc.gz``, in any order and any number of times, with the same result. The
node's own data dir (``HRA_DATA_DIR``) keeps only its runs and the crawl jobs (JOBDIR, so a
cancelled job resumes); no page is stored there.

The file is written as ``.<name>.part`` and renamed when the spider closes, also after a
cancelled job (Scrapyd's ``cancel.json``): an importer never sees a file being written. A job
killed outright leaves the ``.part`` file, complete up to its last record.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import IO

from warcio.warcwriter import WARCWriter

from archive.store import RawPage
from archive.urls import doc_id
from archive.warc_export import open_writer, write_page
from crawler.items import PageItem

_UNSAFE = str.maketrans({c: "_" for c in '/\\:*?"<>| '})


class WarcOutput:
    """The WARC file of one crawl job (opened at the first page)."""

    def __init__(self, directory: Path, source: str, job: str | None) -> None:
        self.directory = directory
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        name = f"{source}-{job or os.getpid()}-{stamp}".translate(_UNSAFE)
        self.path = directory / f"{name}.warc.gz"
        self.part = directory / f".{name}.warc.gz.part"
        self._fh: IO[bytes] | None = None
        self._writer: WARCWriter | None = None
        self.pages = 0

    def write(self, item: PageItem, record_id: str | None, source: str | None,
              link: tuple[str | None, str | None] | None = None) -> str:
        """Write a fetched page (with the id of the document it makes; for an attachment its
        `link`: the parent page's id and the link text); returns "new"."""
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._fh = self.part.open("wb")
            self._writer = open_writer(self._fh, self.path.name,
                                       "hra crawl node: the pages of one job")
        page = RawPage(
            id=0, doc_id=record_id or doc_id(item.url), url=item.request_url,
            final_url=item.url, status=item.status, headers=item.headers,
            fetched_at=item.fetched_at, sha256=hashlib.sha256(item.body).hexdigest(),
            body=item.body, source=source,
        )
        write_page(self._writer, page, record_id, link)
        self._fh.flush()  # type: ignore[union-attr]
        self.pages += 1
        return "new"

    def close(self) -> Path | None:
        """Finish the file and give it its name (None when the job archived nothing)."""
        if self._fh is None:
            return None
        self._fh.close()
        self._fh = self._writer = None
        os.replace(self.part, self.path)
        return self.path
