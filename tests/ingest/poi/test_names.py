"""POI name keys and similarity: width, script, punctuation, generic suffixes, numbers."""

import pytest

from ingest.poi.names import DUPLICATE_THRESHOLD, is_similar, key_similarity, normalise, normalise_many, similarity

# ------------------------------------------------------------------ normalise


@pytest.mark.parametrize("name, key", [
    ("ＫＦＣ 肯德基（人民广场店）", "kfc肯德基人民广场店"),  # full-width letters, space, brackets
    ("２０２４年【新店】", "2024年新店"),
    ("博斯騰湖 景區", "博斯腾湖景区"),  # traditional
    ("庫爾勒香梨賓館", "库尔勒香梨宾馆"),
    ("新疆維吾爾自治區人民醫院", "新疆维吾尔自治区人民医院"),
    ("乾隆行宫", "乾隆行宫"),  # 乾 stays in a name, not 干
    ("博斯腾湖·大河口、景区，。", "博斯腾湖大河口景区"),  # CJK punctuation
    ("Korla-Hotel_No.1 (east)", "korlahotelno1east"),  # ASCII punctuation
    ("  博斯腾湖\t景区\u3000", "博斯腾湖景区"),  # ASCII, tab and ideographic spaces
    ("Straße ÜRÜMQI", "strasseürümqi"),  # casefold, not just lower()
    ("Qarghiliq", "qarghiliq"),  # Uyghur Latin
    ("ﺑﺎﻳﯩﻨﻐﯘﻟﯩﻦ", "بايىنغۇلىن"),  # Uyghur in Arabic presentation forms -> base letters
    ("ئۈرۈمچى", "ئۈرۈمچى"),
    ("①号楼", "1号楼"),
])
def test_normalise(name, key):
    assert normalise(name) == key


@pytest.mark.parametrize("name", [None, "", "   ", "（）【】·、，。-_", "\u3000"])
def test_empty_and_none_give_empty_key(name):
    assert normalise(name) == ""


def test_keys_are_stable_under_normalise():
    for name in ["ＫＦＣ 肯德基（人民广场店）", "博斯騰湖 景區", "Straße", "ئۈرۈمچى", "库尔勒"]:
        assert normalise(normalise(name)) == normalise(name)


def test_normalise_many_equals_normalise():
    names = ["博斯騰湖 景區", None, "Korla Hotel", "", "ＫＦＣ 肯德基（人民广场店）", "鐵門關\n風景區", "ئۈرۈمچى"] * 50
    assert normalise_many(names) == [normalise(name) for name in names]
    assert normalise_many([]) == []
    assert normalise_many(["Korla", None]) == ["korla", ""]


# ------------------------------------------------------------------ similarity: duplicates


@pytest.mark.parametrize("a, b", [
    ("博斯腾湖景区", "博斯騰湖 景區"),
    ("博斯腾湖景区", "博斯腾湖（景区）"),
    ("ＫＦＣ 肯德基（人民广场店）", "KFC肯德基(人民广场店)"),
    ("Ürümqi", "ÜRÜMQI"),
])
def test_spelling_variants_are_identical(a, b):
    assert similarity(a, b) == 1.0
    assert is_similar(a, b)


@pytest.mark.parametrize("a, b", [
    ("博斯腾湖", "博斯腾湖景区"),  # containment through a generic suffix
    ("博斯腾湖风景区", "博斯騰湖景區"),  # sibling scenic suffixes
    ("博斯腾湖", "博斯腾湖国家5A级景区"),  # the A-grade is a rating, not the name
    ("罗布人村寨", "羅布人村寨旅遊區"),
    ("库尔勒宾馆", "库尔勒大酒店"),  # hotels switch freely between these words
    ("孔雀河大饭店", "孔雀河宾馆"),
    ("ＫＦＣ 肯德基（人民广场店）", "肯德基人民广场店"),  # brand added in Latin
    ("第1中学", "第一中学"),  # the same number spelled two ways
    ("三〇一医院", "301医院"),
    ("十三团", "13团"),
])
def test_duplicates(a, b):
    assert DUPLICATE_THRESHOLD <= similarity(a, b) < 1.0
    assert is_similar(a, b)


def test_generic_suffix_containment_scores_high():
    assert similarity("博斯腾湖", "博斯腾湖景区") >= 0.8


def test_similarity_is_symmetric_and_bounded():
    names = ["博斯腾湖", "博斯腾湖景区", "第一中学", "第二中学", "库尔勒宾馆", "ＫＦＣ", None, "铁门关市"]
    for a in names:
        for b in names:
            assert 0.0 <= similarity(a, b) <= 1.0
            assert similarity(a, b) == similarity(b, a)


# ------------------------------------------------------------------ similarity: different places


def test_unrelated_names_score_low():
    assert similarity("铁门关", "博斯腾湖") < 0.3


@pytest.mark.parametrize("a, b", [
    ("第一中学", "第二中学"),
    ("库尔勒市第一中学", "库尔勒市第二中学"),
    ("二十团", "十二团"),  # same characters, other number
    ("3号楼", "5号楼"),
    ("人民医院", "第二人民医院"),  # a number on one side only
    ("第1中学", "第2中学"),
])
def test_names_differing_in_numbers_are_not_duplicates(a, b):
    assert similarity(a, b) < DUPLICATE_THRESHOLD
    assert not is_similar(a, b)


@pytest.mark.parametrize("a, b", [
    ("库尔勒香梨宾馆", "库尔勒宾馆"),  # judgement call: 香梨 is the distinctive part of another name
    ("博斯腾湖宾馆", "博斯腾湖景区"),  # same core, different kinds of place
    ("库尔勒大酒店", "库尔勒餐厅"),
    ("库尔勒博物馆", "库尔勒"),  # 博物馆 is no generic suffix: the museum is not the city
    ("肯德基人民广场店", "肯德基解放路店"),
    ("博斯腾湖大河口景区", "博斯腾湖莲花湖景区"),  # two scenic areas on one lake
    ("酒店", "宾馆"),  # generic words alone are not stripped to nothing
])
def test_different_places_are_not_duplicates(a, b):
    assert not is_similar(a, b)


@pytest.mark.parametrize("a, b", [(None, None), ("", ""), (None, "博斯腾湖"), ("（）", "、")])
def test_missing_names_are_no_evidence(a, b):
    assert similarity(a, b) == 0.0
    assert not is_similar(a, b)


def test_threshold_can_be_changed():
    a, b = "库尔勒香梨宾馆", "库尔勒宾馆"
    assert is_similar(a, b, threshold=0.7)
    assert not is_similar(a, b, threshold=0.95)


def test_key_similarity_on_batch_keys():
    names = ["博斯騰湖 景區", "博斯腾湖", "第一中学", "第二中学"]
    keys = normalise_many(names)
    assert key_similarity(keys[0], keys[1]) == similarity(names[0], names[1])
    assert key_similarity(keys[2], keys[3]) == similarity(names[2], names[3])
