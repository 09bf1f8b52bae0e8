"""Tests for `archive.text.region.detect_region` on realistic report titles and sentences."""

from __future__ import annotations

import csv

import pytest

from archive.text.region import DATA_FILE, Region, detect_region

ZUNYI_CITY_REPORT = (
    "2023年，在市委、市政府的坚强领导下，遵义市卫生健康系统坚持以人民健康为中心，"
    "全市医疗卫生服务能力持续提升。红花岗区、汇川区、播州区加快推进紧密型县域医共体建设，"
    "正安县、道真仡佬族苗族自治县、务川仡佬族苗族自治县完成县级医院提质改造，"
    "仁怀市、赤水市、习水县基层首诊率稳步提高。遵义市全年完成家庭医生签约120万人。"
)


def region(title: str, text: str = "") -> str | None:
    """``str`` of the detected region, ``None`` when nothing is detected."""
    found = detect_region(title, text)
    return None if found is None else str(found)


def test_region_str() -> None:
    assert str(Region("贵州省", "遵义市", "红花岗区")) == "贵州省遵义市红花岗区"
    assert str(Region("北京市", None, "朝阳区")) == "北京市朝阳区"
    assert str(Region(None, None, None)) == ""


def test_city_report_naming_its_counties_gives_city() -> None:
    assert detect_region("2023年卫生健康工作总结", ZUNYI_CITY_REPORT) == Region(
        "贵州省", "遵义市", None
    )


def test_county_in_title_with_city_in_text() -> None:
    text = (
        "在遵义市卫生健康局的精心指导下，红花岗区卫生健康局紧紧围绕年度目标任务，"
        "扎实推进各项工作。"
    )
    assert detect_region("红花岗区2023年卫生健康工作总结", text) == Region(
        "贵州省", "遵义市", "红花岗区"
    )


def test_county_dominating_text() -> None:
    text = (
        "红花岗区卫生健康局2023年工作总结。全区共有医疗卫生机构312个。红花岗区深入推进医共体建设，"
        "在遵义市率先实现乡镇卫生院远程会诊全覆盖。红花岗区人民医院通过二级甲等复审。"
        "汇川区、播州区来我区交流学习。"
    )
    assert region("2023年工作总结", text) == "贵州省遵义市红花岗区"


def test_city_only() -> None:
    text = "扬州市卫生健康委员会认真贯彻落实省委省政府决策部署，全市卫生健康事业高质量发展。"
    assert detect_region("2023年工作总结", text) == Region("江苏省", "扬州市", None)


def test_short_city_name_in_title() -> None:
    text = "全市卫生健康系统要坚持稳中求进工作总基调，持续深化医药卫生体制改革。"
    assert region("扬州 2023年卫生健康工作要点", text) == "江苏省扬州市"


def test_province_only() -> None:
    text = (
        "2023年，浙江省卫生健康系统以数字化改革为牵引，全省居民人均预期寿命达到82.5岁，"
        "全省卫生健康事业取得新成效。"
    )
    assert detect_region("2023年全省卫生健康工作总结", text) == Region("浙江省", None, None)


def test_province_report_listing_cities_gives_province() -> None:
    text = (
        "浙江省卫生健康委员会2023年工作总结。全省新增国家区域医疗中心3家，杭州市、宁波市、"
        "温州市、湖州市分别建成省级区域医疗中心，全省县域就诊率达到90%。"
    )
    assert region("", text) == "浙江省"


def test_autonomous_region_short_name() -> None:
    assert region("广西2023年卫生健康工作总结") == "广西壮族自治区"
    assert region("内蒙古自治区卫生健康委员会2023年工作总结") == "内蒙古自治区"


def test_municipality_district() -> None:
    text = "朝阳区卫生健康委紧紧围绕首都功能定位，全区医疗卫生资源配置持续优化。"
    found = detect_region("北京市朝阳区2023年卫生健康工作总结", text)
    assert found == Region("北京市", None, "朝阳区")
    assert str(found) == "北京市朝阳区"


def test_municipality_report_listing_districts() -> None:
    text = "全市卫生健康工作稳步推进。浦东新区、黄浦区、徐汇区、长宁区、静安区新建社区卫生服务站。"
    assert detect_region("上海市2023年卫生健康工作总结", text) == Region("上海市", None, None)


def test_ambiguous_county_resolved_by_city() -> None:
    text = (
        "在长春市卫生健康委员会的指导下，朝阳区卫生健康局扎实推进各项工作，"
        "全区基层医疗机构达标率100%。"
    )
    assert region("朝阳区2023年卫生健康工作总结", text) == "吉林省长春市朝阳区"


def test_ambiguous_county_resolved_by_adjacent_city() -> None:
    assert region("长春市朝阳区2023年卫生健康工作总结") == "吉林省长春市朝阳区"


def test_ambiguous_county_not_resolved_is_dropped() -> None:
    # 鼓楼区 exists in both 南京市 and 徐州市 (and 福州市, 开封市): only the province remains.
    text = "按照江苏省卫生健康委员会的统一部署，鼓楼区卫生健康委员会全面完成年度目标任务。"
    assert detect_region("鼓楼区2023年卫生健康工作总结", text) == Region("江苏省", None, None)
    assert detect_region("鼓楼区2023年卫生健康工作总结", "全区卫生健康工作稳步推进。") is None


def test_anonymized_names() -> None:
    text = "XX区卫生健康局在xx市卫健委的指导下，会同**县、××镇卫生院开展了家庭医生签约服务。"
    assert detect_region("XX区2023年卫生健康工作总结", text) is None


def test_no_place_names() -> None:
    text = "坚持预防为主，推动健康中国行动落地见效。"
    assert detect_region("2023年卫生健康工作总结", text) is None
    assert detect_region("", "") is None


@pytest.mark.parametrize(
    "text",
    [
        "我院与中山大学附属第一医院签订合作协议。",
        "在和平年代，医务工作者同样是最可爱的人。",
        "沿长安街开展健康宣传活动。",
        "隆重庆祝中国共产党成立102周年，确保各项工作平安顺利。",
        "学习推广三明医改经验，创建全国基层中医药工作示范县，提高县级医院服务能力。",
        "探索县域医共体建设，推进健康县城建设，加强药品市场监管。",
        "派出医疗队驰援，朝阳产业发展势头良好，为来宾提供安康服务。",
        "城区医院和郊区卫生院均完成改造，新城区规划建设一所三甲医院。",
    ],
)
def test_common_words_are_not_places(text: str) -> None:
    assert detect_region("2023年卫生健康工作总结", text) is None


def test_title_wins_over_text() -> None:
    text = (
        "组织医务人员赴遵义市、贵阳市学习。遵义市卫生健康局来我市考察。"
        "与遵义市第一人民医院建立对口协作关系，遵义市专家定期来院坐诊。"
    )
    assert region("扬州市2023年卫生健康工作总结", text) == "江苏省扬州市"


def test_places_in_other_roles_do_not_dominate() -> None:
    text = (
        "扬州市卫生健康委员会多措并举引进人才，赴哈尔滨医科大学、郑州大学医学院、"
        "中国医科大学等院校开展校园招聘，深入对接上海、北京、南京等地大型医院，"
        "全市新引进博士12名。广陵区、邗江区新建社区医院各1所。"
    )
    assert region("2023年卫生健康人才工作总结", text) == "江苏省扬州市"


def test_city_whose_counties_are_mentioned_wins() -> None:
    text = (
        "深入对接上海、北京、南京等地大型医院。红花岗区、汇川区、播州区、正安县"
        "基层医疗卫生机构标准化建设全部达标。"
    )
    assert region("2023年卫生健康工作总结", text) == "贵州省遵义市"


def test_autonomous_prefecture() -> None:
    assert region("黔南州2023年卫生健康工作总结") == "贵州省黔南布依族苗族自治州"
    text = (
        "黔南布依族苗族自治州卫生健康局认真贯彻落实州委州政府决策部署，"
        "全州卫生健康工作成效明显。"
    )
    assert detect_region("", text) == Region("贵州省", "黔南布依族苗族自治州", None)


def test_county_level_city_directly_under_province() -> None:
    found = detect_region("仙桃市2023年卫生健康工作总结", "全市卫生健康系统取得新成效。")
    assert found == Region("湖北省", "仙桃市", None)
    assert str(found) == "湖北省仙桃市"


def test_autonomous_county_alias() -> None:
    assert region("石柱县2023年卫生健康工作总结") == "重庆市石柱土家族自治县"


def test_generic_district_only_right_after_its_city() -> None:
    assert region("阳泉市城区2023年卫生健康工作总结") == "山西省阳泉市城区"
    text = "阳泉市城区医院、城区社区卫生服务中心完成改造，城区居民健康档案建档率95%。"
    assert region("2023年工作总结", text) == "山西省阳泉市"


def test_two_character_county() -> None:
    assert region("沛县2023年卫生健康工作总结") == "江苏省徐州市沛县"


def test_full_city_name_that_is_also_a_common_word() -> None:
    assert region("中山市2023年卫生健康工作总结") == "广东省中山市"
    assert region("吉林市2023年卫生健康工作总结") == "吉林省吉林市"
    assert region("吉林省2023年卫生健康工作总结") == "吉林省"


def test_renamed_county_from_2020_data() -> None:
    assert region("郫县2018年卫生计生工作总结") == "四川省成都市郫县"


def test_divisions_table() -> None:
    with DATA_FILE.open(encoding="utf-8") as fh:
        rows = {row["code"]: row for row in csv.DictReader(fh, delimiter="\t")}
    assert 3000 < len(rows) < 4000
    assert rows["429004"]["parent_code"] == "420000"
    assert rows["520302"] == {
        "code": "520302", "name": "红花岗区", "level": "county", "parent_code": "520300",
        "short": "红花岗",
    }
    assert rows["522700"]["short"] == "黔南"
    assert not any(row["name"] in ("市辖区", "县", "省直辖县级行政区划") for row in rows.values())
    for row in rows.values():
        assert row["level"] in ("province", "city", "county")
        assert (row["parent_code"] == "") == (row["level"] == "province")
        assert row["parent_code"] == "" or row["parent_code"] in rows


def test_speech_for_a_county_named_once_with_its_city_and_province() -> None:
    text = (
        "今天，我们召开全县中医药工作推进会，主要任务是贯彻落实全省和赣州市中医药工作会议精神。"
        "近年来，于都县中医药事业发展取得了长足进步，全县中医医疗服务网络不断完善。"
        "我们要以更加务实的作风推动全县中医药事业高质量发展，为建设健康江西贡献力量。"
    )
    assert str(detect_region("在2024年全县中医药工作推进会上的讲话", text)) == "江西省赣州市于都县"
