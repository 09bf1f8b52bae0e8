from archive.text.normalize import normalize_line
from archive.text.truncation import strip_truncation


def test_inline_and_final_notices_removed_with_full_length():
    paras = [
        normalize_line("一、堅持系統觀念,務求健康建設取得新成效。"),
        normalize_line("要加強基層醫療衛生服務能力建設。……(新文秘網(wǎng)http://m.example.cn省略1300字,正式會員可完整閱讀)……三是完善重大疫情救治體系。"),
        normalize_line("牽頭組建專科聯盟和 ……(未完,全文共7918字,當前僅顯示3649字,請閱讀下面提示信息。收藏《講話》"),
        "文章搜索",
        "相关文章",
    ]
    result = strip_truncation(paras)
    text = "\n".join(result.paragraphs)
    assert result.truncated and result.full_length == 7918
    assert "省略" not in text and "正式会员" not in text and "未完" not in text
    assert "要加强基层医疗卫生服务能力建设。" in text and "三是完善重大疫情救治体系。" in text
    assert "牵头组建专科联盟和" in text
    assert "文章搜索" not in text and "相关文章" not in text


def test_complete_text_is_not_flagged():
    result = strip_truncation(["全年完成家庭医生签约服务12万人。", "下一步，我们将继续深化医改。"])
    assert not result.truncated and result.full_length is None


def test_text_cut_mid_sentence_is_flagged_without_length():
    last = "全市医疗资源质量偏弱、结构不优,现有三级医院在发展规模、学科实力、品牌专科建设等方面与群众需求相比仍有差距,与省内先进地市相比也存在不小差距,在"
    result = strip_truncation(["第一段。", last])
    assert result.truncated and result.full_length is None


def test_read_more_paywall():
    result = strip_truncation(["第一段内容。", "剩余80%未读,开通会员查看全文"])
    assert result.truncated and result.paragraphs == ["第一段内容。"]
