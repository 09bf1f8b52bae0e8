"""Text pipeline stages: plain functions over bytes and strings (no I/O, no Scrapy, no database).

`archive.page_processing.process_page` chains them in this order:

1. `decode` (bytes -> str; also `looks_binary` and the Content-Type charset, asked first);
2. `selectors` (a crawl source's own CSS selectors for body, title and date, when given);
3. `htmlprocessing.strip_non_content` (scripts, styles, comments), then `normalize`
   (`normalize_markup` over the whole page: NFKC, pinyin annotations, t2s);
4. `extract`: `htmlprocessing` (parse, clean, lines, clutter), `main_extractor` (the article
   container and paragraphs), `metadata` (title, date, site, column, attachments); the words
   they look for are in `vocabulary`;
5. `normalize` again (`normalize_line`: each paragraph and the short fields);
6. `truncation` (paywall notices cut, truncated copies flagged);
7. `classify` and `region` (flags, health report, type, year, region).
"""
