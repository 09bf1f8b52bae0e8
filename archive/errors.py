"""The one exception the services raise for the user: a message and the exit code of `hra`.

Services (plain modules under `archive/` and `search/`) raise `HraError` or one of its
subclasses; the CLI (`archive.cli.HraGroup`) prints it as one line on stderr and exits with
`exit_code` (2 for usage errors, 130 for an interruption, 1 otherwise).
"""

from __future__ import annotations


class HraError(Exception):
    """An error for the user: ``str(exc)`` is the message, ``exit_code`` the exit status."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
