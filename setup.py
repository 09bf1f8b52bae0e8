"""`scrapyd-deploy` builds the project egg with ``python setup.py bdist_egg``: everything (name,
packages archive/, crawler/, search/ and their data files, the ``scrapy`` entry point naming
crawler.settings) comes from pyproject.toml."""

from setuptools import setup

setup()
