"""`hra serve`: placeholder, filled below."""

import click


def register(cli: click.Group) -> None:
    pass
