"""`hra search`, `hra reindex`, `hra check` (filled in by the search work)."""

import click


def register(cli: click.Group) -> None:
    """Nothing registered yet."""
