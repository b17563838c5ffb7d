#!/usr/bin/env python3
"""Generate the bundled POI (point of interest) sample batches for Bayingolin and Wuhai.

    python sample_data/make_poi.py

Writes, into sample_data/poi/ next to this script:
  tourism_pois.csv               the main sample set, WGS84/CGCS2000, all op=add
  gcj02_batch.csv                a batch "copied from a consumer map app": coordinates in GCJ-02
  gcj02_batch.truth.csv          name, lon, lat: the WGS84 truth of every gcj02_batch.csv row
  errors_batch.csv               a batch in which some rows must be rejected
  errors_batch.expected.json     {"<spreadsheet row>": [reason, ...]} for the rejected rows

What is real and what is not:
* Rows whose `source` is "sample data (approximate)" name real, well-known places (scenic spots,
  the airports, railway stations, governments, hospitals). Their coordinates were placed by hand
  from general knowledge and public descriptions: they are APPROXIMATE (expect errors of
  hundreds of metres, more for remote sites), not surveyed. Their A-level ratings are given only
  where the rating is widely published. They carry no phone number.
* Rows whose `source` is "sample data (fictitious)" are invented: every such name contains
  "示例" ("example"). Their ratings, addresses and coordinates are made up.
* Every phone number is fictitious: landlines 0996-555xxxx / 0473-555xxxx, mobiles 1390000xxxx.
* Every photo URL is on https://example.org/poi/.
* Dates (collected_at, verified_at) come from random.Random(2026) and are invented.

Checks (the script fails loudly): every point lies inside its intended county of the bundled
counties.geojson, at least ~100 m from the county edge, and inside its region's box; points tied
to a town lie within a few km of that town's GeoNames point (places.geojson); no two rows with
the same name are within 200 m; every category code exists in ingest/poi/categories.json and
every rating fits the category; the GCJ-02 batch round-trips through ingest/poi/coords.py.

Requirements: Python 3.11, shapely, numpy and pyproj (ingest/poi/coords.py uses the last two).
The output is deterministic: running the script twice gives identical bytes.
"""
import csv
import io
import json
import os
import random
import sys
from datetime import date, timedelta

from shapely.geometry import Point, shape

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT_DIR = os.path.join(HERE, "poi")
sys.path.insert(0, ROOT)

from ingest.poi.coords import gcj02_to_wgs84, offset_metres, wgs84_to_gcj02  # noqa: E402

COLUMNS = ["op", "id", "name", "name_en", "name_ug", "name_mn", "category", "rating", "address",
           "phone", "opening_hours", "description", "photos", "lon", "lat", "source",
           "collected_at", "verified_at", "status"]

SEED = 2026
FIRST_DAY = date(2022, 1, 1)
LAST_COLLECTED = date(2026, 9, 30)
LAST_VERIFIED = date(2026, 11, 20)     # the data were made in late November 2026

SRC_REAL = "sample data (approximate)"
SRC_FAKE = "sample data (fictitious)"
SRC_APP = "consumer map app, GCJ-02 (sample)"

REGION_BOX = {  # lon_min, lon_max, lat_min, lat_max
    "652800": (81.5, 94.0, 35.0, 44.0),
    "150300": (106.0, 107.8, 38.8, 40.4),
}
AREA_CODE = {"652800": "0996", "150300": "0473"}
EDGE_MARGIN = 0.001    # degrees (~100 m): minimum distance of a point from its county edge
SAME_NAME_MIN_M = 200.0

BZ = "新疆巴音郭楞蒙古自治州"
KRL = BZ + "库尔勒市"
WH = "内蒙古自治区乌海市"
HBW = WH + "海勃湾区"

# County adcodes (as in counties.geojson), and the GeoNames name of the seat used for the town check.
KORLA, LUNTAI, YULI, RUOQIANG, QIEMO, YANQI, HEJING, HOXUD, BOHU = (
    "652801", "652822", "652823", "652824", "652825", "652826", "652827", "652828", "652829")
HAIBOWAN, HAINAN, WUDA = "150302", "150303", "150304"
TOWN = {KORLA: ("Korla", 12.0), LUNTAI: ("Luntai", 4.0), YULI: ("Yuli", 4.0),
        RUOQIANG: ("Ruoqiang", 4.0), QIEMO: ("Qiemo", 4.0), YANQI: ("Yanqi", 4.0),
        HEJING: ("Hejing", 4.0), HOXUD: ("Hoxut", 4.0), BOHU: ("Bohu", 4.0),
        HAIBOWAN: ("Wuhai", 8.0), WUDA: ("Wuda", 4.0)}


def P(county, category, name, lon, lat, *, rating="", en="", ug="", address="", hours=None,
      desc="", real=False, town=True, status="active", collected=None, verified=None,
      photos=None):
    """One place. `town`: check the point against the county seat's GeoNames point."""
    return dict(county=county, category=category, name=name, lon=lon, lat=lat, rating=rating,
                en=en, ug=ug, address=address, hours=hours, desc=desc, real=real, town=town,
                status=status, collected=collected, verified=verified, photos=photos)


# ---------------------------------------------------------------------------------------------
# The tourism set. Real places first in each county (real=True), then invented ones ("示例").
# Uyghur names only where the spelling is well established; no traditional Mongolian (name_mn
# stays empty: nobody on the team can check it).
# ---------------------------------------------------------------------------------------------
BAYINGOLIN = [
    # --- 库尔勒市 Korla: real ---
    P(KORLA, "scenic_spot", "孔雀河风景带", 86.1530, 41.7590, real=True,
      en="Peacock River Scenic Belt", ug="كۆنچى دەرياسى مەنزىرە رايونى",
      address=KRL + "孔雀河两岸", hours="全天开放",
      desc="穿城而过的孔雀河两岸滨河景观带，沿河有公园、广场和多座桥梁。"),
    P(KORLA, "scenic_spot", "铁门关景区", 86.1900, 41.8250, real=True, town=False,
      en="Tiemen Pass (Iron Gate Pass)", address=KRL + "北郊孔雀河峡谷出口",
      desc="古丝绸之路中道的关隘，扼孔雀河峡谷出口，距市区约8公里。"),
    P(KORLA, "scenic_spot", "天鹅河景区", 86.1400, 41.7350, real=True,
      en="Swan River Scenic Area", address=KRL + "南部城区天鹅河沿岸", hours="全天开放",
      desc="连接孔雀河与杜鹃河的城市水系景区，沿岸有梨香湖等景点。"),
    P(KORLA, "scenic_spot", "莲花湖景区", 86.3180, 41.8320, real=True, town=False,
      en="Lotus Lake Scenic Area", address=KRL + "博斯腾湖西南小湖区",
      desc="博斯腾湖西南小湖区的芦苇湿地，夏季野生睡莲盛开。位置为近似值。"),
    P(KORLA, "museum", "巴音郭楞蒙古自治州博物馆", 86.1850, 41.7480, real=True,
      en="Bayingolin Museum", ug="بايىنغولىن ئوبلاستلىق مۇزېي", address=KRL + "石化大道",
      desc="地方综合性博物馆，展示楼兰文化、东归历史和地域民俗。"),
    P(KORLA, "airport", "库尔勒机场", 86.1289, 41.6978, real=True,
      en="Korla Licheng Airport", ug="كورلا ئايرودرومى", address=KRL + "南郊",
      desc="巴州的主要民用机场（库尔勒梨城机场），位于市区西南。"),
    P(KORLA, "railway_station", "库尔勒站", 86.1800, 41.7270, real=True,
      en="Korla Railway Station", ug="كورلا پويىز ئىستانسىسى", address=KRL,
      desc="南疆铁路的中枢站，格库铁路的起点。"),
    P(KORLA, "hospital", "巴州人民医院", 86.1630, 41.7640, real=True,
      en="Bayingolin People's Hospital", ug="بايىنغولىن ئوبلاستلىق خەلق دوختۇرخانىسى",
      address=KRL + "人民东路", desc="巴音郭楞蒙古自治州人民医院，综合性医院。"),
    P(KORLA, "government", "巴州人民政府", 86.1570, 41.7680, real=True,
      en="Bayingolin Prefecture People's Government",
      ug="بايىنغولىن موڭغۇل ئاپتونوم ئوبلاستلىق خەلق ھۆكۈمىتى", address=KRL,
      desc="巴音郭楞蒙古自治州人民政府。"),
    # --- 库尔勒市: invented ---
    P(KORLA, "hotel", "梨城示例大酒店", 86.1560, 41.7625, rating="5",
      address=KRL + "人民东路（示例地址）", desc="虚构的五星级酒店，近孔雀河。"),
    P(KORLA, "hotel", "孔雀河示例宾馆", 86.1485, 41.7570, rating="3",
      address=KRL + "人民西路（示例地址）", desc="虚构的河畔宾馆。"),
    P(KORLA, "hotel", "示例商务酒店（火车站店）", 86.1795, 41.7300, rating="2",
      address=KRL + "火车站前（示例地址）", desc="虚构的商务酒店，步行可达库尔勒站。"),
    P(KORLA, "hotel", "示例国际酒店（石化大道店）", 86.1880, 41.7520, rating="4",
      address=KRL + "石化大道（示例地址）", desc="虚构的四星级酒店。"),
    P(KORLA, "hotel", "示例快捷酒店（机场店）", 86.1350, 41.7080,
      address=KRL + "机场路（示例地址）", desc="虚构的经济型酒店，无星级。"),
    P(KORLA, "guesthouse", "铁门关示例民宿", 86.1850, 41.8180, town=False,
      address=KRL + "铁门关附近（示例地址）", desc="虚构的农家民宿，近铁门关景区。"),
    P(KORLA, "restaurant", "示例烤肉馆（萨依巴格路店）", 86.1420, 41.7480,
      address=KRL + "萨依巴格路（示例地址）", desc="虚构的烤肉、烤包子馆。"),
    P(KORLA, "restaurant", "示例大盘鸡（人民东路店）", 86.1600, 41.7615,
      address=KRL + "人民东路（示例地址）", desc="虚构的大盘鸡、拌面馆。"),
    P(KORLA, "restaurant", "示例拌面馆", 86.1520, 41.7700,
      address=KRL + "（示例地址）", desc="虚构的拌面馆。"),
    P(KORLA, "restaurant", "示例烤鱼（孔雀河店）", 86.1455, 41.7545,
      address=KRL + "孔雀河畔（示例地址）", desc="虚构的红柳烤鱼店。"),
    P(KORLA, "restaurant", "梨城示例抓饭馆", 86.1700, 41.7560, status="closed",
      address=KRL + "天山东路（示例地址）", desc="虚构的抓饭馆，已停业。"),
    P(KORLA, "restaurant", "示例清真餐厅（天山东路店）", 86.1650, 41.7530,
      address=KRL + "天山东路（示例地址）", desc="虚构的清真餐厅。"),
    P(KORLA, "restaurant", "示例火锅（石化大道店）", 86.1905, 41.7450,
      address=KRL + "石化大道（示例地址）", desc="虚构的火锅店。"),
    P(KORLA, "cafe", "示例奶茶店（人民广场店）", 86.1540, 41.7650,
      address=KRL + "（示例地址）", desc="虚构的奶茶、酸奶店。"),
    P(KORLA, "cafe", "示例咖啡（孔雀河店）", 86.1505, 41.7605,
      address=KRL + "孔雀河畔（示例地址）", desc="虚构的咖啡馆。"),
    P(KORLA, "bazaar", "库尔勒示例巴扎", 86.1450, 41.7630,
      address=KRL + "（示例地址）", desc="虚构的巴扎，干果、香梨和手工艺品。"),
    P(KORLA, "bazaar", "梨城示例夜市", 86.1580, 41.7560, hours="19:00-次日02:00",
      address=KRL + "（示例地址）", desc="虚构的夜市，烧烤和小吃。"),
    P(KORLA, "bazaar", "示例农贸市场（萨依巴格）", 86.1380, 41.7420,
      address=KRL + "萨依巴格路（示例地址）", desc="虚构的农贸市场。"),
    P(KORLA, "shopping", "示例购物中心（人民东路）", 86.1610, 41.7665,
      address=KRL + "人民东路（示例地址）", desc="虚构的购物中心。"),
    P(KORLA, "shopping", "库尔勒香梨示例特产店", 86.1520, 41.7615,
      address=KRL + "（示例地址）", desc="虚构的特产店，香梨、红枣和干果。"),
    P(KORLA, "bus_station", "库尔勒示例汽车客运站", 86.1720, 41.7360,
      address=KRL + "（示例地址）", desc="虚构的长途汽车客运站，发往各县。"),
    P(KORLA, "bus_stop", "示例公交站（巴州人民医院）", 86.1645, 41.7628,
      address=KRL + "人民东路（示例地址）"),
    P(KORLA, "bus_stop", "示例公交站（库尔勒站）", 86.1790, 41.7285,
      address=KRL + "火车站前（示例地址）"),
    P(KORLA, "bus_stop", "示例公交站（孔雀河风景带）", 86.1525, 41.7598,
      address=KRL + "（示例地址）"),
    P(KORLA, "parking", "铁门关景区示例停车场", 86.1880, 41.8230, town=False,
      address=KRL + "铁门关景区（示例地址）"),
    P(KORLA, "fuel", "示例加油站（314国道）", 86.2100, 41.7720,
      address=KRL + "G314（示例地址）"),
    P(KORLA, "police", "示例派出所（萨依巴格）", 86.1400, 41.7450,
      address=KRL + "萨依巴格路（示例地址）"),
    P(KORLA, "clinic", "示例社区卫生服务中心（天山东路）", 86.1680, 41.7500,
      address=KRL + "天山东路（示例地址）"),
    P(KORLA, "pharmacy", "示例大药房（人民东路）", 86.1585, 41.7640,
      address=KRL + "人民东路（示例地址）"),
    P(KORLA, "school", "库尔勒市示例第一小学", 86.1470, 41.7680, address=KRL + "（示例地址）"),
    P(KORLA, "school", "库尔勒市示例中学", 86.1700, 41.7700, address=KRL + "（示例地址）"),
    P(KORLA, "kindergarten", "示例幼儿园（梨香湖）", 86.1330, 41.7300,
      address=KRL + "（示例地址）"),
    P(KORLA, "university", "库尔勒示例职业技术学院", 86.1950, 41.7650,
      address=KRL + "（示例地址）", desc="虚构的高职院校。"),
    P(KORLA, "bank", "示例银行库尔勒分行", 86.1555, 41.7655, address=KRL + "人民东路（示例地址）"),
    P(KORLA, "bank", "示例农商银行（天山东路支行）", 86.1665, 41.7545,
      address=KRL + "天山东路（示例地址）"),
    P(KORLA, "atm", "示例银行ATM（库尔勒站）", 86.1805, 41.7280, address=KRL + "火车站（示例地址）"),
    P(KORLA, "toilet", "公共厕所", 86.1510, 41.7585, address=KRL + "孔雀河风景带内", town=True),
    P(KORLA, "toilet", "公共厕所", 86.1420, 41.7365, address=KRL + "天鹅河景区内"),
    P(KORLA, "toilet", "公共厕所", 86.1895, 41.8245, address=KRL + "铁门关景区内", town=False),
    P(KORLA, "post_office", "示例邮政支局（人民东路）", 86.1550, 41.7668,
      address=KRL + "人民东路（示例地址）"),
    P(KORLA, "visitor_centre", "库尔勒示例游客服务中心", 86.1535, 41.7612,
      address=KRL + "孔雀河风景带（示例地址）", desc="虚构的城市游客咨询点。"),
    P(KORLA, "visitor_centre", "铁门关景区示例游客中心", 86.1885, 41.8215, town=False,
      address=KRL + "铁门关景区（示例地址）"),
    P(KORLA, "park", "示例滨河公园", 86.1450, 41.7520, address=KRL + "（示例地址）",
      hours="全天开放", desc="虚构的滨河公园。"),
    P(KORLA, "park", "梨香示例公园", 86.1310, 41.7260, rating="3A", address=KRL + "（示例地址）",
      hours="全天开放", desc="虚构的城市公园，等级为虚构。"),
    # --- 博湖县 Bohu ---
    P(BOHU, "scenic_spot", "博斯腾湖景区", 86.7900, 41.9900, rating="5A", real=True, town=False,
      en="Bosten Lake Scenic Area", ug="باغراش كۆلى ساياھەت رايونى",
      address=BZ + "博湖县博斯腾湖西岸（大河口）",
      desc="中国最大的内陆淡水吞吐湖，国家5A级旅游景区。点位取大河口一带。"),
    P(BOHU, "government", "博湖县人民政府", 86.6200, 41.9860, real=True,
      en="Bohu County People's Government", address=BZ + "博湖县"),
    P(BOHU, "visitor_centre", "博斯腾湖示例游客中心", 86.7850, 41.9880, town=False,
      address=BZ + "博湖县博斯腾湖景区（示例地址）"),
    P(BOHU, "toilet", "公共厕所", 86.7870, 41.9915, town=False, address=BZ + "博湖县博斯腾湖景区内"),
    P(BOHU, "restaurant", "博湖示例鱼庄", 86.6250, 41.9820, address=BZ + "博湖县（示例地址）",
      desc="虚构的湖鱼餐馆。"),
    P(BOHU, "bus_station", "博湖示例汽车客运站", 86.6180, 41.9800, address=BZ + "博湖县（示例地址）"),
    # --- 焉耆回族自治县 Yanqi ---
    P(YANQI, "government", "焉耆回族自治县人民政府", 86.5680, 42.0600, real=True,
      en="Yanqi Hui Autonomous County People's Government", address=BZ + "焉耆回族自治县"),
    P(YANQI, "scenic_spot", "七个星佛寺遗址", 86.3600, 42.0500, real=True, town=False,
      en="Shikchin (Xikxin) Buddhist Temple Ruins", address=BZ + "焉耆回族自治县七个星镇",
      hours="10:00-19:00", desc="古焉耆国的佛寺遗址。位置为近似值。"),
    P(YANQI, "restaurant", "焉耆示例清真餐厅", 86.5700, 42.0640, address=BZ + "焉耆回族自治县（示例地址）"),
    P(YANQI, "bazaar", "焉耆示例巴扎", 86.5630, 42.0580, address=BZ + "焉耆回族自治县（示例地址）"),
    # --- 和静县 Hejing ---
    P(HEJING, "government", "和静县人民政府", 86.3850, 42.3180, real=True,
      en="Hejing County People's Government", address=BZ + "和静县"),
    P(HEJING, "hospital", "和静县人民医院", 86.3800, 42.3150, real=True,
      en="Hejing County People's Hospital", address=BZ + "和静县"),
    P(HEJING, "scenic_spot", "巴音布鲁克景区", 84.1400, 43.0200, rating="5A", real=True, town=False,
      en="Bayanbulak Scenic Area", ug="بايانبۇلاق ساياھەت رايونى",
      address=BZ + "和静县巴音布鲁克镇", hours="09:00-20:00（5月-10月）",
      desc="天山中部的高山草原，国家5A级旅游景区，以九曲十八弯和天鹅湖闻名。"),
    P(HEJING, "scenic_spot", "巴音布鲁克天鹅湖", 83.7500, 42.7500, real=True, town=False,
      en="Bayanbulak Swan Lake", ug="بايانبۇلاق ئاققۇ كۆلى",
      address=BZ + "和静县巴音布鲁克草原", hours="",
      desc="巴音布鲁克草原上由众多小湖和沼泽组成的天鹅自然保护区。位置为粗略近似值。"),
    P(HEJING, "campsite", "巴音布鲁克示例露营地", 84.1200, 43.0100, town=False,
      address=BZ + "和静县巴音布鲁克镇（示例地址）", hours="6月-9月开放"),
    P(HEJING, "guesthouse", "巴音布鲁克示例民宿", 84.1520, 43.0330, town=False,
      address=BZ + "和静县巴音布鲁克镇（示例地址）"),
    P(HEJING, "hotel", "和静示例宾馆", 86.3870, 42.3200, rating="3", address=BZ + "和静县（示例地址）"),
    # --- 和硕县 Hoxud ---
    P(HOXUD, "scenic_spot", "金沙滩景区", 87.0650, 42.1150, real=True, town=False,
      en="Golden Beach (Bosten Lake)", address=BZ + "和硕县博斯腾湖北岸",
      hours="10:00-20:00（夏季）", desc="博斯腾湖北岸的沙滩浴场，夏季开放水上项目。"),
    P(HOXUD, "government", "和硕县人民政府", 86.8600, 42.2600, real=True,
      en="Hoxud County People's Government", address=BZ + "和硕县"),
    P(HOXUD, "fuel", "和硕示例加油站", 86.8500, 42.2550, address=BZ + "和硕县（示例地址）"),
    # --- 轮台县 Luntai ---
    P(LUNTAI, "scenic_spot", "塔里木胡杨林公园", 84.2200, 41.2000, rating="4A", real=True,
      town=False, en="Tarim Populus euphratica Forest Park", address=BZ + "轮台县沙漠公路南段",
      desc="轮台县城以南沙漠公路约70公里处的原始胡杨林，国家4A级旅游景区。"),
    P(LUNTAI, "government", "轮台县人民政府", 84.2450, 41.7760, real=True,
      en="Luntai County People's Government", address=BZ + "轮台县"),
    P(LUNTAI, "bus_station", "轮台示例汽车客运站", 84.2400, 41.7700, address=BZ + "轮台县（示例地址）"),
    P(LUNTAI, "hotel", "轮台示例宾馆", 84.2480, 41.7720, rating="3", address=BZ + "轮台县（示例地址）"),
    # --- 尉犁县 Yuli ---
    P(YULI, "scenic_spot", "罗布人村寨", 85.9700, 41.1200, rating="4A", real=True, town=False,
      en="Lopliks' Village (Luobu People's Village)", address=BZ + "尉犁县墩阔坦乡",
      desc="塔里木河畔的罗布人聚居地与沙漠胡杨景区，国家4A级旅游景区，距县城约35公里。"),
    P(YULI, "government", "尉犁县人民政府", 86.2580, 41.3380, real=True,
      en="Yuli County People's Government", address=BZ + "尉犁县"),
    P(YULI, "hotel", "尉犁示例宾馆", 86.2600, 41.3350, rating="2", address=BZ + "尉犁县（示例地址）"),
    P(YULI, "restaurant", "尉犁示例烤鱼馆", 86.2550, 41.3390, address=BZ + "尉犁县（示例地址）"),
    # --- 若羌县 Ruoqiang ---
    P(RUOQIANG, "scenic_spot", "楼兰古城遗址", 89.9200, 40.5200, real=True, town=False,
      en="Loulan Ancient City Ruins", ug="كروران قەدىمكى شەھەر خارابىسى",
      address=BZ + "若羌县罗布泊西北", hours="",
      desc="古楼兰国都城遗址，位于罗布泊西北的无人区，进入须经批准。"),
    P(RUOQIANG, "scenic_spot", "米兰古城遗址", 88.9670, 39.2170, real=True, town=False,
      en="Miran Ancient City Ruins", ug="مىران قەدىمكى شەھەر خارابىسى",
      address=BZ + "若羌县米兰镇附近", hours="", desc="汉唐时期的古城与佛寺遗址。"),
    P(RUOQIANG, "museum", "楼兰博物馆", 88.1700, 39.0250, real=True,
      en="Loulan Museum", address=BZ + "若羌县", desc="展示楼兰、米兰等遗址出土文物的博物馆。"),
    P(RUOQIANG, "government", "若羌县人民政府", 88.1650, 39.0180, real=True,
      en="Ruoqiang County People's Government", address=BZ + "若羌县"),
    P(RUOQIANG, "hospital", "若羌县人民医院", 88.1620, 39.0230, real=True,
      en="Ruoqiang County People's Hospital", address=BZ + "若羌县"),
    P(RUOQIANG, "hotel", "若羌示例宾馆", 88.1680, 39.0210, rating="3", address=BZ + "若羌县（示例地址）"),
    P(RUOQIANG, "fuel", "若羌示例加油站", 88.1550, 39.0120, address=BZ + "若羌县G315（示例地址）"),
    # --- 且末县 Qiemo ---
    P(QIEMO, "scenic_spot", "扎滚鲁克古墓群", 85.4700, 38.1200, real=True, town=False,
      en="Zaghunluq Ancient Tombs", address=BZ + "且末县托格拉克勒克乡",
      desc="且末县城附近的古墓葬群，出土大量毛织品。位置为近似值。"),
    P(QIEMO, "government", "且末县人民政府", 85.5300, 38.1360, real=True,
      en="Qiemo County People's Government", address=BZ + "且末县"),
    P(QIEMO, "hospital", "且末县人民医院", 85.5330, 38.1320, real=True,
      en="Qiemo County People's Hospital", address=BZ + "且末县"),
    P(QIEMO, "hotel", "且末示例宾馆", 85.5280, 38.1380, rating="2", address=BZ + "且末县（示例地址）"),
    P(QIEMO, "shopping", "且末示例玉石市场", 85.5260, 38.1330, address=BZ + "且末县（示例地址）",
      desc="虚构的玉石、特产市场。"),
]

WUHAI = [
    # --- 海勃湾区 Haibowan: real ---
    P(HAIBOWAN, "scenic_spot", "乌海湖景区", 106.7850, 39.6650, real=True,
      en="Wuhai Lake Scenic Area", address=HBW + "滨河区滨河大道",
      desc="黄河海勃湾水利枢纽形成的人工湖，湖西岸为乌兰布和沙漠。"),
    P(HAIBOWAN, "scenic_spot", "甘德尔山景区", 106.8700, 39.7200, real=True,
      en="Gander Mountain Scenic Area", address=HBW + "甘德尔山",
      desc="海勃湾区东北的山地景区，山顶有成吉思汗铜像。位置为近似值。"),
    P(HAIBOWAN, "scenic_spot", "金沙湾生态旅游区", 106.8300, 39.8100, real=True, town=False,
      en="Jinshawan Eco-tourism Area", address=HBW + "机场路以东",
      hours="08:30-18:00（4月-10月）", desc="海勃湾城区以北约14公里的沙丘、湖泊生态旅游区。"),
    P(HAIBOWAN, "airport", "乌海机场", 106.7994, 39.7934, real=True, town=False, en="Wuhai Airport",
      address=HBW + "北郊", desc="乌海市的民用机场。"),
    P(HAIBOWAN, "railway_station", "乌海站", 106.8350, 39.7100, real=True,
      en="Wuhai Railway Station", address=HBW + "林荫大道北",
      desc="2025年9月启用的新乌海站。位置为近似值。"),
    P(HAIBOWAN, "railway_station", "乌海东站", 106.8260, 39.6760, real=True, status="closed",
      en="Wuhai East Railway Station", address=HBW,
      collected=date(2023, 5, 12), verified=date(2025, 9, 10),
      desc="原乌海站，2024年6月更名乌海东站，2025年9月起不再办理客运。位置为近似值。"),
    P(HAIBOWAN, "bus_station", "乌海市客运枢纽站", 106.8380, 39.7070, real=True,
      en="Wuhai Passenger Transport Hub", address=HBW + "林荫大道",
      desc="与乌海站相邻的公路客运枢纽。位置为近似值。"),
    P(HAIBOWAN, "government", "乌海市人民政府", 106.7942, 39.6550, real=True,
      en="Wuhai Municipal People's Government", address=HBW + "滨河街道市府大道",
      desc="乌海市人民政府。"),
    P(HAIBOWAN, "government", "海勃湾区人民政府", 106.8180, 39.6900, real=True,
      en="Haibowan District People's Government", address=HBW + "海北大街"),
    P(HAIBOWAN, "hospital", "乌海市人民医院", 106.8200, 39.6850, real=True,
      en="Wuhai People's Hospital", address=HBW, desc="乌海市综合性医院。位置为近似值。"),
    # --- 海勃湾区: invented ---
    P(HAIBOWAN, "hotel", "乌海示例大酒店", 106.8150, 39.6800, rating="4",
      address=HBW + "（示例地址）", desc="虚构的四星级酒店。"),
    P(HAIBOWAN, "hotel", "黄河示例宾馆", 106.8050, 39.6700, rating="3", address=HBW + "（示例地址）"),
    P(HAIBOWAN, "hotel", "乌海湖示例度假酒店", 106.7880, 39.6600, rating="5",
      address=HBW + "滨河区（示例地址）", desc="虚构的湖景度假酒店。"),
    P(HAIBOWAN, "hotel", "示例快捷酒店（海北大街店）", 106.8220, 39.6920,
      address=HBW + "海北大街（示例地址）"),
    P(HAIBOWAN, "guesthouse", "甘德尔山示例民宿", 106.8600, 39.7150, address=HBW + "（示例地址）"),
    P(HAIBOWAN, "campsite", "乌海湖示例房车营地", 106.7870, 39.6450, address=HBW + "乌海湖东岸（示例地址）",
      hours="4月-10月开放"),
    P(HAIBOWAN, "restaurant", "示例手把肉馆", 106.8120, 39.6830, address=HBW + "（示例地址）",
      desc="虚构的蒙餐馆。"),
    P(HAIBOWAN, "restaurant", "示例黄河鱼馆", 106.7990, 39.6620, address=HBW + "滨河区（示例地址）"),
    P(HAIBOWAN, "restaurant", "示例烧烤（新华大街店）", 106.8170, 39.6750,
      address=HBW + "新华大街（示例地址）"),
    P(HAIBOWAN, "restaurant", "示例面馆（海北大街店）", 106.8230, 39.6950,
      address=HBW + "海北大街（示例地址）"),
    P(HAIBOWAN, "restaurant", "示例涮羊肉", 106.8100, 39.6900, status="closed",
      address=HBW + "（示例地址）", desc="虚构的涮羊肉馆，已停业。"),
    P(HAIBOWAN, "cafe", "示例咖啡（滨河店）", 106.7960, 39.6580, address=HBW + "滨河区（示例地址）"),
    P(HAIBOWAN, "bazaar", "海勃湾示例农贸市场", 106.8180, 39.6860, address=HBW + "（示例地址）"),
    P(HAIBOWAN, "bazaar", "示例夜市（滨河）", 106.7980, 39.6600, hours="18:30-24:00",
      address=HBW + "滨河区（示例地址）"),
    P(HAIBOWAN, "shopping", "示例购物中心（海勃湾）", 106.8140, 39.6780, address=HBW + "（示例地址）"),
    P(HAIBOWAN, "shopping", "乌海葡萄示例特产店", 106.8060, 39.6720, address=HBW + "（示例地址）",
      desc="虚构的特产店，葡萄干和葡萄酒。"),
    P(HAIBOWAN, "bus_stop", "示例公交站（乌海市人民医院）", 106.8210, 39.6840, address=HBW),
    P(HAIBOWAN, "bus_stop", "示例公交站（乌海湖景区）", 106.7870, 39.6665, address=HBW + "滨河大道"),
    P(HAIBOWAN, "parking", "乌海湖景区示例停车场", 106.7880, 39.6685, address=HBW + "滨河大道（示例地址）"),
    P(HAIBOWAN, "fuel", "示例加油站（110国道）", 106.8300, 39.7300, address=HBW + "G110（示例地址）"),
    P(HAIBOWAN, "police", "示例派出所（海北）", 106.8240, 39.6980, address=HBW + "（示例地址）"),
    P(HAIBOWAN, "clinic", "示例社区卫生服务中心（新华）", 106.8160, 39.6730, address=HBW + "（示例地址）"),
    P(HAIBOWAN, "pharmacy", "示例大药房（海勃湾）", 106.8130, 39.6810, address=HBW + "（示例地址）"),
    P(HAIBOWAN, "school", "乌海市示例小学", 106.8090, 39.6860, address=HBW + "（示例地址）"),
    P(HAIBOWAN, "school", "乌海市示例中学", 106.8200, 39.6780, address=HBW + "（示例地址）"),
    P(HAIBOWAN, "kindergarten", "示例幼儿园（滨河）", 106.7990, 39.6530, address=HBW + "滨河区（示例地址）"),
    P(HAIBOWAN, "bank", "示例银行乌海分行", 106.8110, 39.6770, address=HBW + "（示例地址）"),
    P(HAIBOWAN, "atm", "示例银行ATM（乌海站）", 106.8345, 39.7090, address=HBW + "林荫大道（示例地址）"),
    P(HAIBOWAN, "toilet", "公共厕所", 106.7860, 39.6640, address=HBW + "乌海湖景区内"),
    P(HAIBOWAN, "toilet", "公共厕所", 106.8150, 39.6830, address=HBW),
    P(HAIBOWAN, "post_office", "示例邮政支局（海勃湾）", 106.8140, 39.6845, address=HBW + "（示例地址）"),
    P(HAIBOWAN, "visitor_centre", "乌海湖示例游客中心", 106.7865, 39.6620, address=HBW + "滨河大道（示例地址）"),
    P(HAIBOWAN, "museum", "乌海示例书法展览馆", 106.8000, 39.6600, address=HBW + "滨河区（示例地址）",
      desc="虚构的书法展览馆（乌海有“中国书法城”之称）。"),
    P(HAIBOWAN, "park", "示例滨河公园（乌海）", 106.7950, 39.6700, address=HBW + "滨河大道（示例地址）",
      hours="全天开放"),
    # --- 乌达区 Wuda ---
    P(WUDA, "government", "乌达区人民政府", 106.7200, 39.5050, real=True,
      en="Wuda District People's Government", address=WH + "乌达区胜利街"),
    P(WUDA, "hotel", "乌达示例宾馆", 106.7150, 39.5020, rating="3", address=WH + "乌达区（示例地址）"),
    P(WUDA, "restaurant", "乌达示例羊肉馆", 106.7100, 39.5000, address=WH + "乌达区（示例地址）"),
    P(WUDA, "bazaar", "乌达示例农贸市场", 106.7130, 39.4980, address=WH + "乌达区（示例地址）"),
    P(WUDA, "school", "乌达区示例中学", 106.7080, 39.5060, address=WH + "乌达区（示例地址）"),
    P(WUDA, "bank", "示例银行乌达支行", 106.7170, 39.5040, address=WH + "乌达区（示例地址）"),
    P(WUDA, "bus_stop", "示例公交站（乌达区政府）", 106.7195, 39.5042, address=WH + "乌达区胜利街"),
    # --- 海南区 Hainan (no GeoNames point for its seat: no town check) ---
    P(HAINAN, "government", "海南区人民政府", 106.8900, 39.4300, real=True, town=False,
      en="Hainan District People's Government", address=WH + "海南区拉僧仲街道",
      desc="乌海市海南区人民政府。位置为近似值。"),
    P(HAINAN, "hotel", "海南区示例宾馆", 106.8920, 39.4320, rating="2", town=False,
      address=WH + "海南区（示例地址）"),
    P(HAINAN, "restaurant", "海南区示例面馆", 106.8880, 39.4290, town=False,
      address=WH + "海南区（示例地址）"),
    P(HAINAN, "fuel", "示例加油站（海南区）", 106.8850, 39.4350, town=False,
      address=WH + "海南区（示例地址）"),
    P(HAINAN, "clinic", "示例社区卫生服务中心（拉僧仲）", 106.8930, 39.4280, town=False,
      address=WH + "海南区（示例地址）"),
]

# Opening hours by category: (Bayingolin, Wuhai). Times are Beijing time; Xinjiang keeps
# Beijing time officially but its working day runs about two hours later.
HOURS = {
    "scenic_spot": ("09:30-19:30", "08:30-18:00"), "museum": ("10:00-18:00（周一闭馆）", "09:00-17:00（周一闭馆）"),
    "park": ("全天开放", "全天开放"), "visitor_centre": ("09:30-19:30", "08:30-18:00"),
    "hotel": ("24小时", "24小时"), "guesthouse": ("24小时", "24小时"), "campsite": ("全天", "全天"),
    "restaurant": ("11:00-23:00", "10:00-22:00"), "cafe": ("11:00-24:00", "09:00-22:00"),
    "shopping": ("10:30-22:00", "09:30-21:30"), "bazaar": ("10:00-21:00", "07:00-19:00"),
    "airport": ("按航班时刻", "按航班时刻"), "railway_station": ("按列车时刻", "按列车时刻"),
    "bus_station": ("08:00-20:00", "06:30-18:30"), "bus_stop": ("", ""), "parking": ("24小时", "24小时"),
    "fuel": ("24小时", "24小时"),
    "government": ("周一至周五 10:00-14:00, 16:00-19:30", "周一至周五 08:30-12:00, 14:30-18:00"),
    "police": ("24小时", "24小时"), "hospital": ("24小时急诊", "24小时急诊"),
    "clinic": ("09:30-20:00", "08:00-18:00"), "pharmacy": ("09:30-23:00", "08:00-22:00"),
    "university": ("", ""), "school": ("", ""), "kindergarten": ("", ""),
    "bank": ("周一至周五 10:00-18:00", "周一至周五 09:00-17:00"), "atm": ("24小时", "24小时"),
    "toilet": ("全天开放", "全天开放"), "post_office": ("10:00-19:00", "08:30-17:30"),
}
NO_PHONE = {"bus_stop", "atm", "toilet", "parking"}
MOBILE = {"restaurant", "cafe", "guesthouse", "campsite", "bazaar", "shopping"}

# ---------------------------------------------------------------------------------------------
# The GCJ-02 batch: 12 places of the tourism set picked up again from a map app (same names:
# to be detected as duplicates), plus 8 new places. Coordinates below are the WGS84 truth.
# ---------------------------------------------------------------------------------------------
GCJ_DUPLICATES = ["博斯腾湖景区", "铁门关景区", "孔雀河风景带", "库尔勒站", "巴州人民医院", "罗布人村寨",
                  "梨城示例大酒店", "示例大盘鸡（人民东路店）",
                  "乌海湖景区", "乌海机场", "乌海市人民医院", "乌海示例大酒店"]
GCJ_NEW = [
    P(KORLA, "restaurant", "示例烤包子店（萨依巴格路店）", 86.1395, 41.7505,
      address=KRL + "萨依巴格路（示例地址）"),
    P(KORLA, "cafe", "梨城示例奶茶铺", 86.1625, 41.7595, address=KRL + "（示例地址）"),
    P(KORLA, "guesthouse", "示例民宿（孔雀河畔）", 86.1475, 41.7552, address=KRL + "孔雀河畔（示例地址）"),
    P(BOHU, "guesthouse", "博斯腾湖示例渔家乐", 86.7800, 41.9950, town=False,
      address=BZ + "博湖县博斯腾湖西岸（示例地址）"),
    P(HEJING, "cafe", "巴音布鲁克示例奶茶馆", 84.1550, 43.0310, town=False,
      address=BZ + "和静县巴音布鲁克镇（示例地址）"),
    P(HAIBOWAN, "campsite", "乌海湖示例露营地", 106.7875, 39.6500, address=HBW + "乌海湖东岸（示例地址）"),
    P(HAIBOWAN, "cafe", "示例咖啡（海北大街店）", 106.8235, 39.6935, address=HBW + "海北大街（示例地址）"),
    P(WUDA, "restaurant", "乌达示例烧烤店", 106.7110, 39.5015, address=WH + "乌达区（示例地址）"),
]


# ---------------------------------------------------------------------------------------------
def load_categories():
    path = os.path.join(ROOT, "ingest", "poi", "categories.json")
    with open(path, encoding="utf-8") as f:
        return {c["code"]: c for c in json.load(f)["categories"]}


def load_counties():
    with open(os.path.join(HERE, "counties.geojson"), encoding="utf-8") as f:
        feats = json.load(f)["features"]
    return {ft["properties"]["adcode"]: (ft["properties"]["name"], shape(ft["geometry"])) for ft in feats}


def load_towns():
    with open(os.path.join(HERE, "places.geojson"), encoding="utf-8") as f:
        feats = json.load(f)["features"]
    return {ft["properties"]["name"]: tuple(ft["geometry"]["coordinates"]) for ft in feats}


CATS = load_categories()
COUNTIES = load_counties()
TOWNS = load_towns()


def region_of(county):
    return county[:4] + "00"


def fail(msg):
    sys.exit(f"make_poi.py: ERROR: {msg}")


def check_point(p, what):
    """The point must be in its region's box and inside its county, ~100 m clear of the edge."""
    lon, lat, county = p["lon"], p["lat"], p["county"]
    x0, x1, y0, y1 = REGION_BOX[region_of(county)]
    if not (x0 <= lon <= x1 and y0 <= lat <= y1):
        fail(f"{what} {p['name']}: ({lon}, {lat}) is outside the region box {REGION_BOX[region_of(county)]}")
    name, geom = COUNTIES[county]
    pt = Point(lon, lat)
    if not geom.contains(pt):
        inside = [n for n, g in COUNTIES.values() if g.contains(pt)]
        fail(f"{what} {p['name']}: ({lon}, {lat}) is not in {name} {county} (it is in {inside or 'no county'})")
    if geom.boundary.distance(pt) < EDGE_MARGIN:       # the boundary includes the holes' rings
        fail(f"{what} {p['name']}: ({lon}, {lat}) is within ~100 m of the edge of {name}")
    if p["town"] and county in TOWN:
        town, radius_km = TOWN[county]
        tlon, tlat = TOWNS[town]
        d = offset_metres(lon, lat, tlon, tlat) / 1000
        if d > radius_km:
            fail(f"{what} {p['name']}: {d:.1f} km from the GeoNames point of {town} (limit {radius_km} km)")


def check_category(p, what):
    cat = CATS.get(p["category"])
    if cat is None:
        fail(f"{what} {p['name']}: unknown category {p['category']!r}")
    r = p["rating"]
    if r:
        ok = (cat["rating"] == "a_level" and r in {"1A", "2A", "3A", "4A", "5A"}) or \
             (cat["rating"] == "star" and r in {"1", "2", "3", "4", "5"})
        if not ok:
            fail(f"{what} {p['name']}: rating {r!r} does not fit category {p['category']}")


def check_same_names(places, what):
    by_name = {}
    for p in places:
        by_name.setdefault(p["name"], []).append(p)
    for name, group in by_name.items():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                d = offset_metres(a["lon"], a["lat"], b["lon"], b["lat"])
                if d < SAME_NAME_MIN_M:
                    fail(f"{what}: two rows named {name} only {d:.0f} m apart")


def iso(d):
    return d.isoformat() if d else ""


def fmt(x):
    return f"{x:.6f}"


def write_csv(name, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    with open(os.path.join(OUT_DIR, name), "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())
    print(f"wrote poi/{name}: {len(rows)} rows")


# ---------------------------------------------------------------------------------------------
def make_tourism(rng):
    """Fill in phones, photos, hours and dates; returns the list of finished row dicts."""
    rows = []
    phone_no = {"652800": 0, "150300": 0}
    mobile_no = 0
    seq = {"652800": 0, "150300": 0}
    for p in BAYINGOLIN + WUHAI:
        region = region_of(p["county"])
        wuhai = region == "150300"
        seq[region] += 1
        slug = f"{'wh' if wuhai else 'bz'}-{seq[region]:03d}"
        check_category(p, "tourism_pois")
        check_point(p, "tourism_pois")

        phone = ""
        if not p["real"] and p["category"] not in NO_PHONE:
            if p["category"] in MOBILE and (phone_no[region] + mobile_no) % 2 == 0:
                mobile_no += 1
                phone = f"1390000{mobile_no:04d}"
            else:
                phone_no[region] += 1
                phone = f"{AREA_CODE[region]}-555{phone_no[region]:04d}"

        hours = p["hours"] if p["hours"] is not None else HOURS[p["category"]][1 if wuhai else 0]

        # photos: none for about a third of the rows, one or two otherwise
        k = rng.choice([0, 1, 1, 2]) if p["photos"] is None else p["photos"]
        photos = ";".join(f"https://example.org/poi/{slug}/{i}.jpg" for i in range(1, k + 1))

        collected = p["collected"] or FIRST_DAY + timedelta(days=rng.randrange((LAST_COLLECTED - FIRST_DAY).days + 1))
        if p["verified"] is not None:
            verified = p["verified"]
        elif rng.random() < 0.15:
            verified = None                      # never verified
        else:
            verified = collected + timedelta(days=rng.randrange((LAST_VERIFIED - collected).days + 1))

        desc = p["desc"] or f"虚构的示例{CATS[p['category']]['zh']}。"
        rows.append(dict(p, phone=phone, hours=hours, photos_str=photos, collected=collected,
                         verified=verified, desc=desc, slug=slug,
                         source=SRC_REAL if p["real"] else SRC_FAKE))
    check_same_names(rows, "tourism_pois")
    for r in rows:
        if not r["real"] and "示例" not in r["name"] and r["category"] != "toilet":
            fail(f"invented place {r['name']} must have 示例 in its name")
    return rows


def tourism_csv_row(r):
    return ["add", "", r["name"], r["en"], r["ug"], "", r["category"], r["rating"], r["address"],
            r["phone"], r["hours"], r["desc"], r["photos_str"], fmt(r["lon"]), fmt(r["lat"]),
            r["source"], iso(r["collected"]), iso(r["verified"]), r["status"]]


def make_gcj(tourism, rng):
    by_name = {}
    for r in tourism:
        by_name.setdefault(r["name"], r)
    rows, truth = [], []
    app_phone = 0
    for i, p in enumerate([by_name[n] for n in GCJ_DUPLICATES] + GCJ_NEW):
        new = i >= len(GCJ_DUPLICATES)
        if new:
            check_category(p, "gcj02_batch")
            check_point(p, "gcj02_batch")
            if p["name"] in by_name:
                fail(f"gcj02_batch: new place {p['name']} is already in tourism_pois")
        region = region_of(p["county"])
        wuhai = region == "150300"
        glon, glat = wgs84_to_gcj02(p["lon"], p["lat"])
        glon, glat = round(glon, 6), round(glat, 6)
        # the GCJ point must stay in the region box, and the published inverse must give the truth back
        x0, x1, y0, y1 = REGION_BOX[region]
        if not (x0 <= glon <= x1 and y0 <= glat <= y1):
            fail(f"gcj02_batch {p['name']}: GCJ point outside the region box")
        back = gcj02_to_wgs84(glon, glat)
        if offset_metres(*back, p["lon"], p["lat"]) > 0.5:
            fail(f"gcj02_batch {p['name']}: GCJ-02 round trip is off by more than 0.5 m")
        if new or p["real"]:
            phone = ""
        else:                                     # the app lists the same (fictitious) number
            phone = p["phone"]
        if new and p["category"] not in NO_PHONE:
            app_phone += 1
            phone = f"1390000{9000 + app_phone:04d}"
        hours = p["hours"] if p["hours"] is not None else HOURS[p["category"]][1 if wuhai else 0]
        collected = date(2026, 10, 1) + timedelta(days=rng.randrange(50))
        if new:
            desc = p["desc"] or f"虚构的示例{CATS[p['category']]['zh']}（地图App采集）。"
        else:
            desc = "地图App采集，与已有POI同名。"
        rows.append(["add", "", p["name"], "", "", "", p["category"], p["rating"], p["address"], phone,
                     hours, desc, "", fmt(glon), fmt(glat), SRC_APP, iso(collected), "", "active"])
        truth.append([p["name"], fmt(p["lon"]), fmt(p["lat"])])
    return rows, truth


# ---------------------------------------------------------------------------------------------
# The errors batch. Each entry: (reasons, row). Rows with no reasons are valid.
# ---------------------------------------------------------------------------------------------
def E(op, name, category, lon, lat, *, rating="", phone=None, collected="2026-10-12",
      verified="", status="active", photos="", id_="", address=KRL + "（示例地址）", hours="10:00-22:00"):
    if phone is None:                          # a fresh fictitious landline for the region
        wuhai = address.startswith(WH)
        _E_PHONES[wuhai] += 1
        phone = f"{'0473' if wuhai else '0996'}-5559{_E_PHONES[wuhai]:03d}"
    return [op, id_, name, "", "", "", category, rating, address, phone, hours, "虚构的示例数据。",
            photos, lon, lat, SRC_FAKE, collected, verified, status]


_E_PHONES = {False: 0, True: 100}


def make_errors():
    hb = HBW + "（示例地址）"
    dup = E("add", "示例烤馕店（人民西路店）", "restaurant", "86.145000", "41.766000", phone="13900009101")
    entries = [
        ([], E("", "示例羊肉串店（天山西路店）", "restaurant", "86.135000", "41.760000")),          # op empty = add
        (["missing_name"], E("add", "", "restaurant", "86.156000", "41.750000")),
        ([], E("add", "示例茶馆（乌达）", "cafe", "106.714000", "39.503000",
               address=WH + "乌达区（示例地址）")),
        (["missing_category"], E("add", "示例书店（人民东路）", "", "86.158000", "41.765500")),
        (["unknown_category"], E("add", "示例网红墙", "网红打卡点", "86.150000", "41.761500")),
        (["missing_coordinates"], E("add", "示例拉面馆（海北大街）", "restaurant", "", "",
                                    address=hb)),
        (["bad_coordinates"], E("add", "示例烤包子摊", "restaurant", "86.1x", "41.760000")),
        (["outside_region"], E("add", "示例北京烤鸭店", "restaurant", "116.397000", "39.909000", phone="",
                               address="北京市东城区（示例地址）")),
        ([], E("add", "示例停车场（海勃湾）", "parking", "106.819000", "39.688000", phone="", hours="24小时",
               address=hb)),
        (["bad_phone"], E("add", "示例便利店（石化大道）", "shopping", "86.189000", "41.749000", phone="0996-555")),
        (["bad_rating"], E("add", "示例沙漠公园（乌海）", "scenic_spot", "106.828000", "39.785000", rating="6A",
                           address=hb)),
        (["bad_rating"], E("add", "示例湿地景区（库尔勒）", "scenic_spot", "86.128000", "41.740000", rating="4星")),
        (["bad_date"], E("add", "示例旅馆（库尔勒站）", "guesthouse", "86.181000", "41.730500",
                         collected="2025-13-45")),
        (["bad_date"], E("add", "示例面包店（海勃湾）", "shopping", "106.813000", "39.679000",
                         collected="2062-05-14", address=hb)),    # in the future
        (["bad_status"], E("add", "示例酸奶店（人民东路）", "cafe", "86.160500", "41.763500", status="maybe")),
        (["bad_url"], E("add", "示例羊肉汤馆（海勃湾）", "restaurant", "106.816000", "39.681000",
                        photos="ftp://example.org/poi/err-17/1.jpg", address=hb)),
        (["bad_url"], E("add", "示例冰淇淋店（孔雀河）", "cafe", "86.149000", "41.758500",
                        photos="https://example.org/poi/err-18/1.jpg;javascript:alert(1)")),
        (["unknown_op"], E("upsert", "示例干果店（人民东路）", "shopping", "86.162000", "41.766500")),
        (["missing_id"], E("update", "梨城示例大酒店", "hotel", "86.156000", "41.762500", rating="5",
                           hours="24小时")),
        ([], dup),
        (["duplicate_row"], list(dup)),
        (["bad_phone", "bad_url"], E("add", "示例烧烤摊（乌达）", "restaurant", "106.709000", "39.499500",
                                     phone="0473-12", photos="javascript:void(0)",
                                     address=WH + "乌达区（示例地址）")),
        ([], E("add", "示例药房（海南区）", "pharmacy", "106.890000", "39.431000",
               hours="08:00-22:00", address=WH + "海南区（示例地址）")),
        ([], E("add", "示例宾馆（尉犁）", "hotel", "86.257000", "41.337000", rating="3", hours="24小时",
               collected="2026-09-03", verified="2026-11-02", address=BZ + "尉犁县（示例地址）",
               photos="https://example.org/poi/err-25/1.jpg;https://example.org/poi/err-25/2.jpg")),
    ]
    rows, expected = [], {}
    for i, (reasons, row) in enumerate(entries):
        rownum = i + 2                             # header is spreadsheet row 1
        rows.append(row)
        if reasons:
            expected[str(rownum)] = reasons
    # sanity: the valid rows must really be valid by our own checks
    for i, (reasons, row) in enumerate(entries):
        rec = dict(zip(COLUMNS, row))
        if reasons:
            continue
        cat = CATS[rec["category"]]
        lon, lat = float(rec["lon"]), float(rec["lat"])
        p = dict(name=rec["name"], lon=lon, lat=lat, county=None, town=False)
        inside = [code for code, (_, g) in COUNTIES.items() if g.contains(Point(lon, lat))]
        if len(inside) != 1 or not rec["name"] or not cat:
            fail(f"errors_batch row {i + 2} should be valid but is not ({inside})")
        p["county"] = inside[0]
        p["category"], p["rating"] = rec["category"], rec["rating"]
        check_category(p, "errors_batch")
        check_point(p, "errors_batch")
    return rows, expected


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    rng = random.Random(SEED)
    tourism = make_tourism(rng)
    write_csv("tourism_pois.csv", COLUMNS, [tourism_csv_row(r) for r in tourism])
    gcj_rows, truth = make_gcj(tourism, rng)
    write_csv("gcj02_batch.csv", COLUMNS, gcj_rows)
    write_csv("gcj02_batch.truth.csv", ["name", "lon", "lat"], truth)
    err_rows, expected = make_errors()
    write_csv("errors_batch.csv", COLUMNS, err_rows)
    with open(os.path.join(OUT_DIR, "errors_batch.expected.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
                                    for k, v in expected.items()) + "\n}\n")
    print(f"wrote poi/errors_batch.expected.json: {len(expected)} rejected rows")

    # summary
    stale_cut = date(2025, 11, 25)
    for code, label in (("652800", "Bayingolin"), ("150300", "Wuhai")):
        rs = [r for r in tourism if region_of(r["county"]) == code]
        print(f"  {label}: {len(rs)} rows, {sum(r['real'] for r in rs)} real, "
              f"{sum(r['verified'] is None for r in rs)} never verified, "
              f"{sum(r['verified'] is not None and r['verified'] < stale_cut for r in rs)} verified before {stale_cut}, "
              f"{sum(r['status'] == 'closed' for r in rs)} closed")


if __name__ == "__main__":
    main()
