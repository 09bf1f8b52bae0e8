"""`hra serve`: the local web application (`archive.web`) served by uvicorn."""

from __future__ import annotations

import ipaddress
import socket

import click

from archive.cli import ArchiveDir, console, data_dir_option, err_console, pass_archive_dir, shown
from archive.errors import HraError


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.1, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _usable_port(host: str, port: int) -> int:
    """``port`` if it is free on ``host``, or with 0 a port free now (so the address printed
    is the one served); HraError (one line) when it is taken or the address is not ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host.strip("[]"), port))
            return int(s.getsockname()[1])
    except OSError as exc:
        hint = " (another server? choose one with --port)" if port else ""
        raise HraError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from exc


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: a free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but 127.0.0.1/::1 shows the archive to the "
                   "network (a warning says so).")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
              help="Seconds a search, chart or document page may take before it is cut.")
@data_dir_option
@pass_archive_dir
def serve(archive_dir: ArchiveDir, port: int, host: str, timeout: float) -> None:
    """Browse and search the archive in a web browser (a local, read-only site in Chinese).

    Search with the query language and filters of `hra search`, click facets, read a
    document beside its copies and its stored page, export the results (CSV, JSONL,
    Markdown, Word), see a chart of the matches per year, and the runs and sources.
    Nothing is written to the archive. Ctrl-C stops it.

    \b
    Examples:
      hra serve
      hra serve --port 8080
    """
    import uvicorn

    from archive.web.app import create_app

    app = create_app(archive_dir.data_dir, timeout=timeout)
    port = _usable_port(host, port)
    if not is_loopback(host):
        err_console.print(
            f"[bold yellow]warning:[/] listening on {shown(host)}: anyone who can reach this "
            "machine on the network can read the archive (there is no login)", highlight=False)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    shown_host = f"[{host}]" if ":" in host else host
    console.print(f"serving {shown(archive_dir.data_dir)} at http://{shown_host}:{port}/  "
                  "(read-only; Ctrl-C stops)", highlight=False)
    try:
        server.run()
    except OSError as exc:
        raise HraError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    if not server.started:
        raise HraError(f"cannot listen on {host}:{port} (in use? try --port)")


def register(cli: click.Group) -> None:
    """Add `serve` to `hra`."""
    cli.add_command(serve)
