from archive.text.normalize import normalize_line, normalize_text, search_key, source_script


def test_pinyin_annotations_are_removed_and_script_simplified():
    assert normalize_line("市領導在全市衛(wèi)生健康工作會(huì)議上的講話") == "市领导在全市卫生健康工作会议上的讲话"
    assert normalize_line("醫藥衛(wèi)生_改革") == "医药卫生改革"


def test_real_parentheticals_are_kept():
    for text in ("《管理办法(试行)》", "癌症研究机构(IARC)数据库", "各县(区、市)卫生健康局", "目录(2023年版)"):
        assert normalize_line(text) == text


def test_fullwidth_and_spaces():
    assert normalize_line("　　全市ＡＢＣ１２３  医共体") == "全市ABC123 医共体"
    assert normalize_text("第一段\n\n  \n第二段") == "第一段\n第二段"


def test_search_key_folds_script_and_case():
    assert search_key("醫共體 IARC") == search_key("医共体 iarc")


def test_source_script():
    assert source_script("全市衛生健康系統堅持以人民健康為中心，深化醫藥衛生體制改革。") == "traditional"
    assert source_script("全市卫生健康系统坚持以人民健康为中心，深化医药卫生体制改革。") == "simplified"


def test_fold_width_is_the_full_width_table_on_any_text():
    """`fold_width` replaces the few wide forms of a text one by one (faster than a table
    lookup per character): the same result as the table, whatever the mix and count of forms."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from archive.text.normalize import _ALL_WIDTH, _ALNUM_WIDE, _ALNUM_WIDTH, _translate, fold_width

    wide = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000", "\uff00", "\uff5f"]
    text = st.text(alphabet=st.sampled_from(wide) | st.sampled_from("卫生健康，。a1 ") |
                   st.characters(), max_size=200)

    @settings(max_examples=400, deadline=None)
    @given(text)
    def check(sample: str) -> None:
        folded = fold_width(sample)
        assert folded == sample.translate(_ALL_WIDTH)
        assert len(folded) == len(sample)
        assert _translate(sample, _ALNUM_WIDTH, _ALNUM_WIDE) == sample.translate(_ALNUM_WIDTH)

    check()
    assert fold_width("一是（试行）：全面推进，ＡＢＣ　完成") == "一是(试行):全面推进,ABC 完成"
