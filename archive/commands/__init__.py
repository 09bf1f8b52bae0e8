"""Command groups beyond the archive core, each registering its click commands on `hra`.

Each module defines ``register(cli)`` and imports its heavy dependencies (Scrapy, Whoosh)
inside the command functions, so `hra` starts fast whatever command runs.
"""
