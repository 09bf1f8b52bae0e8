"""`hra crawl`, `hra sources`, `hra demo` (filled in by the crawl work)."""

import click


def register(cli: click.Group) -> None:
    """Nothing registered yet."""
