"""Scrapy's downloader with per-host concurrency enforced for bursts of requests.

With the asyncio reactor (Scrapy 2.19), the downloader starts each queued download as a task
and marks it as transferring only when that task first runs, so when several requests for one
host are queued at once and no download delay is set, all of them pass the per-slot
``CONCURRENT_REQUESTS_PER_DOMAIN`` check (compare scrapy/scrapy#6982). `PoliteDownloader`
reserves the transfer slot at the moment the download is scheduled. The politeness limit of 2
requests per host must hold whatever the delay settings are.
"""

from __future__ import annotations

from typing import Any

from scrapy.core.downloader import Downloader


class PoliteDownloader(Downloader):
    """``DOWNLOADER``: reserve a slot's transfer place when a download is scheduled."""

    def _wait_for_download(self, slot: Any, request: Any, queue_dfd: Any) -> Any:
        # Called synchronously in the loop that checks slot.free_transfer_slots(); the
        # coroutine it returns only starts on the next turn of the event loop.
        slot.transferring.add(request)
        return super()._wait_for_download(slot, request, queue_dfd)
