"""The scheduler end to end: real crawls of a local site that grows between runs.

In-process runs use a clock 30 times faster than the real one (a crawl every real 2 s for an
every-minute schedule); the SIGTERM test runs `hra schedule run` as a real process.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from archive.locks import SourceLock
from archive.schedule import Schedule, ScheduleBook, Scheduler
from tests.conftest import ROOT, report_page
from tests.crawl_server import SiteServer

FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0"]
CITIES = ["滨江", "青禾", "柳溪", "云川", "临港", "东湖", "南屏", "西岭", "北塘", "石门",
          "桃源", "松阳", "梅岭", "枫林", "竹溪", "兰亭", "杏坛", "荷塘", "菊园", "桂山",
          "樟树", "榆林湾", "柏坡", "杉港", "楠溪", "槐荫", "柘城口", "桐江", "椿山", "楸塘"]


def report(i: int) -> bytes:
    city = CITIES[i % len(CITIES)] + ("" if i < len(CITIES) else str(i))
    paragraphs = [
        f"{2020 + i % 4}年,{city}县卫生健康局深入推进紧密型县域医共体建设,组建医共体{i + 2}个,"
        f"县域内就诊率达到{80 + i % 15}.{i % 10}%。",
        f"全年为{i + 10}.{i % 9}万名65岁以上老年人提供免费健康体检,家庭医生签约服务覆盖重点人群"
        f"{i + 30}万人,{city}县获评全省基层卫生工作先进集体。",
        f"{city}县疾控中心完成实验室改造,新增核酸检测能力每日{i + 2}万管,建成{i + 5}个发热门诊,"
        "传染病报告及时率达到100%。",
        f"下一步,{city}县将继续深化医药卫生体制改革,推动第{i}批公立医院高质量发展试点落地见效。",
    ]
    return report_page(f"{city}县卫生健康局{2020 + i % 4}年工作总结", paragraphs).encode("utf-8")


def publish(site: SiteServer, n: int, delay: float = 0.0) -> None:
    links = "".join(f'<li><a href="/r/{i}.html">{CITIES[i % len(CITIES)]}县卫生健康工作总结</a>'
                    f"<span>2024-01-{i % 28 + 1:02d}</span></li>" for i in range(n))
    site.page("/index.html", f"<html><body><h1>工作总结</h1><ul>{links}</ul></body></html>")
    for i in range(n):
        site.route(f"/r/{i}.html", body=report(i), delay=delay)


def add_source(data_dir: Path, site: SiteServer) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "sources.toml").write_text(
        f'[[source]]\nname = "local"\nstart_urls = ["{site.url("/index.html")}"]\n',
        encoding="utf-8")


class FastClock:
    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.base = datetime(2026, 11, 23, 8, 59, 50, tzinfo=timezone(timedelta(hours=8)))
        self.t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self.base + timedelta(seconds=(time.monotonic() - self.t0) * self.speed)


def documents(data_dir: Path) -> int:
    """Documents archived so far (0 while the crawl is still creating the archive)."""
    db = sqlite3.connect(data_dir / "archive.sqlite3", timeout=30)
    try:
        return db.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        db.close()


def test_two_runs_second_finds_only_the_new_page_and_overlap_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SiteServer() as site:
        publish(site, 3)
        add_source(data, site)
        clock = FastClock(speed=30)
        ScheduleBook(data).add(Schedule("fast", "* * * * *", ["local"], crawl_options=FAST,
                                        created_at=(clock() - timedelta(minutes=1)).isoformat()))
        out = io.StringIO()
        scheduler = Scheduler(data, clock=clock, out=out)

        first = scheduler.tick()
        assert len(first) == 1 and first[0].exit_code == 0, out.getvalue()
        assert first[0].summary and first[0].summary["new"] == 3

        publish(site, 4)  # a report is added between the runs
        deadline = time.monotonic() + 30
        while not scheduler.due() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = scheduler.tick()
        assert len(second) == 1 and second[0].exit_code == 0, out.getvalue()
        assert second[0].summary and second[0].summary["new"] == 1
        assert [site.hits[f"/r/{i}.html"] for i in range(4)] == [1, 1, 1, 1]  # no re-fetches

        # A person is crawling the source: the scheduled crawl refuses to overlap.
        with SourceLock(data, "local"):
            while not scheduler.due() and time.monotonic() < deadline + 30:
                time.sleep(0.1)
            third = scheduler.tick()
        assert len(third) == 1
        assert "being crawled" in out.getvalue()
        assert documents(data) == 4
        log = (data / "logs" / "schedule.log").read_text(encoding="utf-8")
        assert log.count("schedule fast: crawling local") == 3

    from archive.store import Store

    with Store(data) as store:
        runs = [r for r in store.runs(10) if r["kind"] == "crawl"]
    assert [r["trigger"] for r in runs][:2] == ["schedule:fast", "schedule:fast"]


def test_sigterm_mid_crawl_then_restart_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    n = 24
    with SiteServer() as site:
        publish(site, n, delay=0.25)
        add_source(data, site)
        ScheduleBook(data).add(Schedule(
            "slow", "0 3 * * *", ["local"],
            crawl_options=[*FAST, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"],
            created_at=(datetime.now().astimezone() - timedelta(days=2)).isoformat()))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "archive", "--data-dir", str(data), "schedule", "run"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if (data / "archive.sqlite3").exists() and documents(data) >= 4:
                    break
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, output
        assert "scheduler stopped" in output and "Traceback" not in output
        kept = documents(data)
        assert 4 <= kept < n, "the crawl must be stopped in the middle"

        result = subprocess.run(
            [sys.executable, "-m", "archive", "--data-dir", str(data), "crawl", "local", *FAST,
             "--json"], capture_output=True, text=True, cwd=ROOT, timeout=180)
        assert result.returncode == 0, result.stderr
        assert documents(data) == n
        db = sqlite3.connect(data / "archive.sqlite3")
        pages = db.execute("SELECT count(*), count(DISTINCT doc_id) FROM pages").fetchone()
        statuses = [r[0] for r in db.execute("SELECT status FROM runs ORDER BY id")]
        db.close()
        assert pages == (n, n)  # nothing stored twice
        assert statuses[0] == "interrupted" and statuses[-1] == "ok"
        fetched = sum(site.hits[f"/r/{i}.html"] for i in range(n))
        assert fetched <= n + 2  # archived pages were not fetched again
        assert json.loads(result.stdout)["new"] == n - kept


def test_a_source_with_its_own_schedule_is_crawled_by_the_scheduler(tmp_path: Path) -> None:
    """A source of <data dir>/sources.toml with `schedule` runs on it with no `schedule add`."""
    data = tmp_path / "data"
    with SiteServer() as site:
        publish(site, 2)
        data.mkdir(parents=True)
        path = data / "sources.toml"
        path.write_text(f'[[source]]\nname = "local"\nstart_urls = ["{site.url("/index.html")}"]'
                        f'\nschedule = "* * * * *"\n', encoding="utf-8")
        clock = FastClock(speed=30)
        changed = (clock() - timedelta(minutes=2)).timestamp()
        os.utime(path, (changed, changed))
        out = io.StringIO()
        scheduler = Scheduler(data, clock=clock, out=out)
        child_crawl = scheduler.launch

        def launch(schedule: Schedule) -> int | None:
            """The scheduler's own child crawl, without the polite delays (a local site)."""
            assert schedule.crawl_args() == ["local"]
            schedule.crawl_options = FAST
            return child_crawl(schedule)

        scheduler.launch = launch
        done = scheduler.tick()
        assert [(o.schedule, o.exit_code) for o in done] == [("source:local", 0)], out.getvalue()
        assert done[0].summary and done[0].summary["new"] == 2
        assert done[0].summary["trigger"] == "schedule:source:local"
    assert documents(data) == 2
