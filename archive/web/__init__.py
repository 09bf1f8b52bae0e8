"""`hra serve`: a local, read-only web application over the archive (Starlette + Jinja2, served
by uvicorn), in Simplified Chinese.

A user interface like the CLI: it parses its input (URL parameters, `archive.web.params`), calls
the same services (`search.params`, `search.selection`, `search.trend`, `archive.export`,
`archive.duplicate_report`, `archive.run_history`, `archive.source_health`) and renders what they
return (`archive.web.app`, templates/ with autoescaping). Services never import it.

Read-only: every request opens the archive with ``Store(readonly=True)``. Archived pages are
shown as text or in a sandboxed frame whose response forbids scripts (`archive.web.app.raw`).
"""
