"""health-report-archive: collect, clean, archive and search Chinese health-work reports."""

__version__ = "0.1.0"
