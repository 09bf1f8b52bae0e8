"""Canonical URLs and the stable document id derived from them."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "spm", "from", "share", "wxshare", "scene", "isappinstalled")
_TRACKING = {"fbclid", "gclid", "yclid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "ref", "src",
             "clicktime", "enterid", "sharer_sharetime", "sharer_shareid", "timestamp"}


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no fragment, no default port, tracking parameters dropped,
    query sorted. ``file://`` URLs are kept as they are (minus the fragment)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (scheme == "http" and parts.port == 80) or (scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _TRACKING and not k.lower().startswith(_TRACKING_PREFIXES)
    ]
    query.sort()
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def doc_id(url: str) -> str:
    """Stable 16-hex-digit id of the document at this URL (sha256 of the canonical URL)."""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()[:16]
