from archive.text.decode import decode_html, normalize_label

TEXT = "全市卫生健康系统深入推进紧密型县域医共体建设，家庭医生签约服务覆盖率达到百分之七十五。" * 5


def page(charset: str | None) -> str:
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">' if charset else ""
    return f"<html><head>{meta}<title>工作总结</title></head><body><p>{TEXT}</p></body></html>"


def test_utf8_declared_gb2312_wins_as_utf8():
    d = decode_html(page("gb2312").encode("utf-8"))
    assert d.encoding == "utf-8" and TEXT in d.text and d.declared == "gb2312"


def test_gbk_without_declaration_is_detected():
    d = decode_html(page(None).encode("gbk"))
    assert d.encoding == "gb18030" and TEXT in d.text and d.clean


def test_utf8_header_on_gbk_bytes_is_overruled():
    d = decode_html(page(None).encode("gbk"), http_charset="utf-8")
    assert TEXT in d.text and d.encoding == "gb18030"


def test_gb2312_label_decodes_as_gb18030_with_rare_characters():
    rare = "㑇" + TEXT  # outside GB2312/GBK, inside GB18030
    html = page("gb2312").replace(TEXT, rare)
    d = decode_html(html.encode("gb18030"))
    assert rare in d.text and d.encoding == "gb18030"


def test_big5_undeclared_is_detected():
    trad = "全市衛生健康系統深入推進緊密型縣域醫共體建設，家庭醫生簽約服務覆蓋率達到百分之七十五。" * 5
    html = page(None).replace(TEXT, trad).replace("工作总结", "工作總結")
    d = decode_html(html.encode("big5"))
    assert trad in d.text and d.encoding == "big5hkscs"


def test_bom_wins_over_declaration():
    d = decode_html(b"\xef\xbb\xbf" + page("gbk").encode("utf-8"))
    assert TEXT in d.text and not d.text.startswith("\ufeff")


def test_broken_bytes_are_replaced_and_flagged():
    data = page("gbk").encode("gbk")
    data = data[:300] + b"\xff\xfe\xff" + data[300:]
    d = decode_html(data)
    assert not d.clean and "\ufffd" in d.text


def test_labels():
    assert normalize_label("GB2312") == "gb18030"
    assert normalize_label("x-gbk") == "gb18030"
    assert normalize_label("Big5") == "big5hkscs"
    assert normalize_label("UTF8") == "utf-8"
    assert normalize_label("no-such-charset") is None


def test_latin1_header_on_gbk_bytes_is_not_believed():
    d = decode_html(page(None).encode("gbk"), http_charset="iso-8859-1")
    assert TEXT in d.text and d.encoding == "gb18030"
