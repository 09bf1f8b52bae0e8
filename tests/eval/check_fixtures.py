#!/usr/bin/env python3
"""Sanity check of the eval fixtures (standard library only).

python3 tests/eval/check_fixtures.py
Checks that every case's page exists and decodes with its real encoding, that each
must-snippet occurs in the page (traditional pages: via the generator's s2t map, pinyin
stripped) and in the report body, that each must_not snippet occurs in the page but not in
the body, and prints coverage counts.
"""
import collections
import glob
import html
import json
import os
import re
import sys

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_pages as mp  # noqa: E402

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
problems = []


def _big5_ok(c):
    try:
        c.encode("big5")
        return True
    except UnicodeEncodeError:
        return False


def bad(name, msg):
    problems.append("%s: %s" % (name, msg))


specs = {p["name"]: p for p in mp.PAGES}
cases = sorted(glob.glob(os.path.join(HERE, "cases", "*.json")))
cov = collections.Counter()
for path in cases:
    name = os.path.basename(path)[:-5]
    case = json.load(open(path, encoding="utf-8"))
    p = specs.get(name)
    if p is None:
        bad(name, "no spec in make_pages.py")
        continue
    fp = os.path.join(HERE, "pages", case["file"])
    if not os.path.exists(fp):
        bad(name, "page file missing")
        continue
    raw = open(fp, "rb").read()
    enc = p["enc"]
    if enc == "utf-8-sig" and not raw.startswith(b"\xef\xbb\xbf"):
        bad(name, "BOM missing")
    if enc != "utf-8-sig" and raw.startswith(b"\xef\xbb\xbf"):
        bad(name, "unexpected BOM")
    try:
        text = raw.decode(enc)
    except UnicodeDecodeError as e:
        bad(name, "does not decode as %s: %s" % (enc, e))
        continue
    head = text[:text.find("<body")].lower()
    decl = p.get("decl")
    if decl is None and "charset" in head:
        bad(name, "charset declared although decl is None")
    if decl and ("charset=%s" % decl.lower() not in head.replace('"', "").replace(" ", "")):
        bad(name, "declared charset %s not found in head" % decl)
    # wrong declarations must really be wrong
    if decl and decl.lower().replace("gb2312", "gbk") != enc.replace("utf-8-sig", "utf-8"):
        cov["wrong_decl"] += 1
        try:
            alt = raw.decode({"gb2312": "gbk"}.get(decl.lower(), decl))
            if alt == text:
                bad(name, "wrong declaration decodes identically")
        except UnicodeDecodeError:
            pass
    un = html.unescape(text)
    stripped = mp.strip_pinyin(un)
    body = mp.body_source(p) if p["text"] else ""
    nchars = len(CJK.findall(body))
    if p["page_kind"] == "article" and not 600 <= nchars <= 3000:
        bad(name, "body has %d CJK chars" % nchars)
    for s in case["must"]:
        if not 10 <= len(s) <= 30 or re.search(r"\s", s):
            bad(name, "must snippet length/whitespace: %r" % s)
        if s not in body:
            bad(name, "must not in body source: %r" % s)
        target = mp.s2t(s) if p["trad"] else s
        if target not in stripped:
            bad(name, "must snippet not in page: %r" % s)
    if p["page_kind"] == "article" and not 6 <= len(case["must"]) <= 12:
        bad(name, "%d must snippets" % len(case["must"]))
    if not 5 <= len(case["must_not"]) <= 10:
        bad(name, "%d must_not snippets" % len(case["must_not"]))
    for s in case["must_not"]:
        target = mp.s2t(s) if p["trad"] else s
        if target not in un and target not in stripped:
            bad(name, "must_not snippet not in page: %r" % s)
        if s in body:
            bad(name, "must_not snippet in body: %r" % s)
    if p["trad"]:
        # characters left in simplified form are usually missing from Big5: report them
        miss = sorted({c for c in CJK.findall(stripped) if not _big5_ok(c)})
        if miss:
            bad(name, "characters not in Big5 (unconverted simplified?): %s" % "".join(miss))
    m = case["meta"]
    cov["pages"] += 1
    cov["enc:" + case["encoding"]] += 1
    cov["decl:none"] += decl is None
    cov["http_charset:set"] += case["http_charset"] is not None
    cov["tpl:" + p["tpl"]] += 1
    cov["health"] += bool(m["is_health_report"])
    cov["offtopic/list"] += not m["is_health_report"]
    if m["is_health_report"]:
        cov["type:" + m["doc_type"]] += 1
    cov["traditional"] += m["source_script"] == "traditional"
    cov["pinyin"] += "(wèi)" in un or "(huì)" in un
    cov["truncated"] += bool(m["truncated"])
    cov["full_length"] += m["full_length"] is not None
    cov["placeholders"] += bool(m["placeholders"])
    cov["published_null"] += m["published"] is None
    cov["gov_meta"] += bool(re.search(r'name="articletitle"', text, re.I))
    cov["region_null(health)"] += bool(m["is_health_report"] and m["region"] is None)
    cov["broken"] += bool(p.get("broken"))
    cov["dup"] += bool(case.get("dup_of"))
    if m["published"] and not re.match(r"^\d{4}-\d{2}-\d{2}$", m["published"]):
        bad(name, "published format")
    if enc == "gb18030":
        try:
            text.encode("gbk")
        except UnicodeEncodeError:
            cov["gb18030_outside_gbk"] += 1
    if enc == "big5":
        ents = sorted(set(re.findall(r"&#\d+;", text)))
        cov["big5_entities"] += len(ents)
        cjk_ents = [e for e in ents if CJK.match(html.unescape(e))]
        if cjk_ents:
            bad(name, "CJK characters written as entities in Big5 page: %s" % "".join(html.unescape(e) for e in cjk_ents))

for p in mp.PAGES:
    if not os.path.exists(os.path.join(HERE, "cases", p["name"] + ".json")):
        bad(p["name"], "case file missing")

for k in sorted(cov):
    print("%-28s %d" % (k, cov[k]))
if problems:
    print("\nPROBLEMS (%d):" % len(problems))
    for x in problems:
        print("  " + x)
    sys.exit(1)
print("\nOK: %d cases" % len(cases))
