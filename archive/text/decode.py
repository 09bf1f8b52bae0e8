"""Bytes -> str for Chinese web pages whose charset declaration is often missing or wrong.

Order of trust:
1. a byte-order mark;
2. a clean (strict) UTF-8 decode: many pages declare gb2312 but are UTF-8;
3. the declared charset (HTTP header, then ``<meta>``) when it is a multi-byte one and the
   bytes decode cleanly with it (a Western single-byte label such as iso-8859-1 decodes any
   bytes, so it proves nothing);
4. detection among GB18030, Big5 and UTF-8 (charset-normalizer when both CJK codecs fit);
5. the best guess with replacement characters (the record is then flagged ``mojibake``).

gb2312/gbk labels decode as gb18030 (a superset), big5 as big5hkscs.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass

from charset_normalizer import from_bytes

_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE
)

# Codec aliases: declared label -> codec we decode with.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "gb18030": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "big5hkscs": "big5hkscs",
    "cp950": "big5hkscs",
    "x-x-big5": "big5hkscs",
}

_MULTIBYTE = frozenset(
    {"gb18030", "big5hkscs", "euc_jp", "shift_jis", "euc_kr", "utf-16", "utf-32", "iso2022_jp"}
)

# A few very frequent characters in each script, to break ties between codecs that both decode.
_COMMON_CJK = set(
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过"
    "们這個國為會來時說發對於學過經與關進種說體實從現動還點們醫衛"
    "工作卫生健康医疗服务建设推进全市县区加强管理机构疾病防控"
)


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # codec actually used
    declared: str | None  # what the page or header claimed
    clean: bool  # False when replacement characters had to be inserted


def normalize_label(label: str | None) -> str | None:
    """Map a declared charset label to the codec we decode it with (None if unknown)."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _SUPERSETS:
        return _SUPERSETS[label]
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def declared_charset(data: bytes, http_charset: str | None = None) -> str | None:
    """The charset the HTTP header or the page's ``<meta>`` declares (raw label)."""
    if http_charset:
        return http_charset
    m = _META_CHARSET.search(data[:8192])
    return m.group(1).decode("ascii", "replace") if m else None


def _try(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _cjk_score(text: str) -> float:
    sample = text[:20000]
    if not sample:
        return 0.0
    common = sum(1 for ch in sample if ch in _COMMON_CJK)
    return common / len(sample)


def decode_html(data: bytes, http_charset: str | None = None) -> Decoded:
    """Decode page bytes to text; see the module docstring for the order of trust."""
    declared = declared_charset(data, http_charset)
    for bom, bom_codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            with_bom = data.decode(bom_codec, errors="replace")
            return Decoded(with_bom, bom_codec, declared, "\ufffd" not in with_bom)

    text = _try(data, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", declared, True)

    codec = normalize_label(declared)
    # A single-byte Western label (often a server's default "iso-8859-1") decodes any bytes,
    # so it proves nothing about a Chinese page: only multi-byte declarations are trusted.
    if codec in _MULTIBYTE:
        text = _try(data, codec)
        if text is not None:
            return Decoded(text, codec, declared, True)

    fits = {c: t for c in ("gb18030", "big5hkscs") if (t := _try(data, c)) is not None}
    if len(fits) == 1:
        (codec, text), = fits.items()
        return Decoded(text, codec, declared, True)
    if len(fits) == 2:
        # Big5 bytes usually also decode as GB18030 (as nonsense): ask charset-normalizer.
        match = from_bytes(data, cp_isolation=["gb18030", "big5"]).best()
        best = normalize_label(match.encoding) if match else None
        if best not in fits:
            best = max(fits, key=lambda c: _cjk_score(fits[c]))
        return Decoded(fits[best], best, declared, True)

    # Nothing decodes cleanly: let charset-normalizer pick among the plausible codecs.
    match = from_bytes(data, cp_isolation=["gb18030", "big5", "utf_8"]).best()
    codec = normalize_label(match.encoding) if match else None
    codec = codec or codec_from_errors(data)
    text = data.decode(codec, errors="replace")
    return Decoded(text, codec, declared, False)


def codec_from_errors(data: bytes) -> str:
    """The codec among the candidates that needs the fewest replacement characters."""
    return min(
        ("utf-8", "gb18030", "big5hkscs"),
        key=lambda c: data.decode(c, errors="replace").count("\ufffd"),
    )


# ----------------------------------------------------------------------------------------------
# Before decoding: is it a page at all, and what does the server say it is?

#: Magic numbers of file formats that are not pages: PDF, ZIP (docx, xlsx), OLE (doc, xls),
#: PNG, JPEG, GIF, gzip, RAR, 7z, MP3, and UTF-32/other NUL-led binaries.
_BINARY_MAGIC = (b"%PDF", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"\x89PNG", b"\xff\xd8\xff", b"GIF8",
                 b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf", b"ID3", b"\x00\x00\x00")


def looks_binary(data: bytes) -> bool:
    """Bytes of a file format (PDF, Office, images, archives), not a page: a known magic
    number, or more than 8 NULs in the first 4 kB (UTF-16 text, with its BOM, carries NULs
    legitimately). The crawler's non-HTML filter and the pipeline both ask this."""
    head = data[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    return head.startswith(_BINARY_MAGIC) or head.count(b"\x00") > 8


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value (quotes removed), or None."""
    if not content_type:
        return None
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def charset_from_headers(headers: Mapping[str, str]) -> str | None:
    """The charset of the Content-Type header (its name in any case) among HTTP headers."""
    for key, value in headers.items():
        if key.lower() == "content-type":
            return header_charset(value)
    return None
