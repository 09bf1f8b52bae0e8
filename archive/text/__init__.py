"""Text pipeline stages: plain functions over bytes and strings (no I/O, no Scrapy, no database).

decode -> extract -> normalize -> truncation -> classify; `archive.pipeline` chains them.
"""
