from archive.urls import canonical_url, doc_id


def test_canonical_url():
    assert (
        canonical_url("HTTP://WJW.Example.GOV.cn:80/a/b.html?utm_source=x&b=2&a=1#top")
        == "http://wjw.example.gov.cn/a/b.html?a=1&b=2"
    )
    assert canonical_url("https://x.cn") == "https://x.cn/"


def test_doc_id_is_stable_across_tracking_and_fragments():
    a = doc_id("http://wjw.example.gov.cn/zwgk/t20231008_1.html")
    assert a == doc_id("http://WJW.example.gov.cn/zwgk/t20231008_1.html?utm_medium=wx#p2")
    assert a != doc_id("http://wjw.example.gov.cn/zwgk/t20231008_2.html")
    assert len(a) == 16
