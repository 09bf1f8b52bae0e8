"""DOC / WPS / RTF (binary and legacy word-processor files) -> paragraphs, by a converter
found at run time:

1. LibreOffice headless (``soffice``): converts to DOCX, read like any DOCX (tables kept);
   each run has its own temporary profile (``-env:UserInstallation``), so parallel workers and
   a desktop LibreOffice never share one, a timeout, and its process group killed on expiry;
2. ``antiword`` (.doc) or ``catdoc`` (.doc, .wps): plain text, one paragraph per line.

With none installed the document gets the flag ``unextracted`` and a note naming the package
to install; its raw bytes are archived and ``hra reprocess`` extracts it later. Temporary files
live in one directory removed on every path out.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from archive.text.documents import word
from archive.text.documents.common import DocumentError, DocumentText, pick_title

INSTALL_HINT = "install libreoffice-writer to extract .doc/.wps/.rtf files (or antiword/catdoc for .doc)"


def converters(fmt: str) -> list[str]:
    """The installed programs that can read `fmt`, best first."""
    wanted = {"doc": ("soffice", "antiword", "catdoc"), "wps": ("soffice", "catdoc"),
              "rtf": ("soffice",)}[fmt]
    return [name for name in wanted if shutil.which(name)]


def extract(data: bytes, fmt: str, *, timeout: float = 120.0) -> DocumentText:
    found = converters(fmt)
    if not found:
        return DocumentText(fmt, None, [], ["unextracted"], INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="hra-doc-") as tmp:
        source = Path(tmp) / f"in.{fmt}"
        source.write_bytes(data)
        program = found[0]
        if program == "soffice":
            converted = _soffice(source, Path(tmp), timeout)
            result = word.extract(converted.read_bytes())
            return DocumentText(fmt, result.title, result.paragraphs)
        args = ["antiword", "-w", "0", "-m", "UTF-8.txt"] if program == "antiword" else \
            ["catdoc", "-d", "utf-8", "-w"]
        text = _run([*args, str(source)], timeout).decode("utf-8", "replace")
    paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    return DocumentText(fmt, pick_title(None, paragraphs), paragraphs)


def _soffice(source: Path, tmp: Path, timeout: float) -> Path:
    out = tmp / "out"
    profile = (tmp / "profile").as_uri()
    _run(["soffice", "--headless", "--norestore", "--nolockcheck", "--nodefault",
          f"-env:UserInstallation={profile}", "--convert-to", "docx", "--outdir", str(out),
          str(source)], timeout)
    converted = out / (source.stem + ".docx")
    if not converted.is_file():
        raise DocumentError(f"LibreOffice could not convert this .{source.suffix[1:]} file "
                            "(damaged?)")
    return converted


def _run(args: list[str], timeout: float) -> bytes:
    """Run a converter in its own process group; kill the group when it overruns."""
    # Its home and temporary files inside our directory: removed with it, even after a kill.
    work = str(Path(args[-1]).parent)
    env = {**os.environ, "HOME": work, "TMPDIR": work}
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, start_new_session=True, env=env) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise DocumentError(f"{args[0]} took longer than {timeout:.0f} s: stopped") from None
    if proc.returncode != 0:
        why = err.decode("utf-8", "replace").strip().splitlines()
        raise DocumentError(f"{args[0]} failed ({why[-1] if why else proc.returncode})"[:200])
    return out
