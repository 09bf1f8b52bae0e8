"""Where the archive lives: --data-dir, else $HRA_DATA_DIR, else the platform's user data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_VAR = "HRA_DATA_DIR"


def data_dir(option: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the data dir from the command-line option, the environment, or the platform."""
    if option:
        return Path(option).expanduser()
    if env := os.environ.get(ENV_VAR):
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("hra", appauthor=False))
