"""Source CRS recognition and the transform to storage (EPSG:4490) for Chinese deliveries."""

import math

import pytest
from pyproj import CRS, Geod, Transformer

from ingest import crs as C
from ingest.crs import (
    Recognised,
    check_region,
    guess_from_coordinates,
    parse_user_srs,
    plausible_for_region,
    recognise,
    transformer_to_storage,
)
from layers.errors import InvalidInput

# --- .prj samples as Chinese desktop GIS writes them (ESRI WKT) ------------------------------

DEG = 'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]'
GCS_2000 = (
    'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",'
    f'SPHEROID["CGCS2000",6378137.0,298.257222101]],{DEG}]'
)
GCS_XIAN = f'GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",SPHEROID["Xian_1980",6378140.0,298.257]],{DEG}]'
GCS_BJ54 = f'GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",SPHEROID["Krasovsky_1940",6378245.0,298.3]],{DEG}]'
GCS_WGS = f'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],{DEG}]'


def esri(name, gcs, fe, cm, k=1.0, projection="Gauss_Kruger"):
    return (
        f'PROJCS["{name}",{gcs},PROJECTION["{projection}"],PARAMETER["False_Easting",{fe}],'
        f'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",{cm}],'
        f'PARAMETER["Scale_Factor",{k}],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
    )


GCS_CUSTOM = f'GEOGCS["GCS_Custom",DATUM["D_Unknown",SPHEROID["CGCS2000",6378137.0,298.257222101]],{DEG}]'

ESRI_CASES = [
    # (prj text, epsg, datum, kind, zone, prefixed)
    (esri("CGCS2000_3_Degree_GK_CM_87E", GCS_2000, 500000.0, 87.0), 4538, "CGCS2000", "gk3", 29, False),
    (esri("CGCS2000_3_Degree_GK_Zone_29", GCS_2000, 29500000.0, 87.0), 4517, "CGCS2000", "gk3", 29, True),
    (esri("CGCS2000_3_Degree_GK_CM_108E", GCS_2000, 500000.0, 108.0), 4545, "CGCS2000", "gk3", 36, False),
    (esri("CGCS2000_3_Degree_GK_Zone_36", GCS_2000, 36500000.0, 108.0), 4524, "CGCS2000", "gk3", 36, True),
    (esri("CGCS2000_6_Degree_GK_Zone_15", GCS_2000, 15500000.0, 87.0), 4493, "CGCS2000", "gk6", 15, True),
    (esri("CGCS2000_GK_CM_87E", GCS_2000, 500000.0, 87.0), 4504, "CGCS2000", "gk6", 15, False),
    (esri("Xian_1980_3_Degree_GK_CM_87E", GCS_XIAN, 500000.0, 87.0), 2374, "Xian1980", "gk3", 29, False),
    (esri("Xian_1980_GK_Zone_18", GCS_XIAN, 18500000.0, 105.0), 2332, "Xian1980", "gk6", 18, True),
    (esri("Beijing_1954_3_Degree_GK_Zone_36", GCS_BJ54, 36500000.0, 108.0), 2412, "Beijing1954", "gk3", 36, True),
    (esri("Beijing_1954_GK_Zone_15N", GCS_BJ54, 500000.0, 87.0), 21455, "Beijing1954", "gk6", 15, False),
    (GCS_2000, 4490, "CGCS2000", "geographic", None, None),
    (GCS_WGS, 4326, "WGS84", "geographic", None, None),
    (GCS_XIAN, 4610, "Xian1980", "geographic", None, None),
    (esri("WGS_1984_UTM_Zone_45N", GCS_WGS, 500000.0, 87.0, 0.9996, "Transverse_Mercator"), 32645, "WGS84", "utm", 45, None),
    # custom definitions, no EPSG name: matched by parameters
    (esri("Korla_TM", GCS_CUSTOM, 29500000.0, 87.0, projection="Transverse_Mercator"), 4517, "CGCS2000", "gk3", 29, True),
    (esri("Korla_TM", GCS_CUSTOM, 500000.0, 87.0, projection="Transverse_Mercator"), 4538, "CGCS2000", "gk3", 29, False),
    (esri("自定义", GCS_2000.replace("D_China_2000", "D_CGCS2000"), 36500000.0, 108.0), 4524, "CGCS2000", "gk3", 36, True),
    (esri("MapGIS", GCS_BJ54.replace("D_Beijing_1954", "D_Unknown"), 500000.0, 108.0), 2433, "Beijing1954", "gk3", 36, False),
]


@pytest.mark.parametrize(("prj", "epsg", "datum", "kind", "zone", "prefixed"), ESRI_CASES)
def test_recognises_esri_prj(prj, epsg, datum, kind, zone, prefixed):
    r = recognise(prj, path="sheet.prj")
    assert (r.epsg, r.datum, r.kind, r.zone, r.prefixed) == (epsg, datum, kind, zone, prefixed)
    assert r.crs == CRS.from_epsg(epsg) and r.name == CRS.from_epsg(epsg).name


def test_custom_definition_says_how_it_was_matched():
    r = recognise(esri("Korla_TM", GCS_CUSTOM, 29500000.0, 87.0, projection="Transverse_Mercator"))
    assert r.epsg == 4517 and r.central_meridian == 87.0
    assert "EPSG:4517 by its parameters" in r.note and "CGCS2000 from its ellipsoid" in r.note


def test_recognises_prj_bytes_in_gbk():
    prj = esri("CGCS2000 3度带 中央经线87", GCS_2000, 500000.0, 87.0).encode("gbk")
    assert recognise(prj).epsg == 4538


OGC_WKT1 = """PROJCS["CGCS2000 / 3-degree Gauss-Kruger CM 108E",
    GEOGCS["China Geodetic Coordinate System 2000",
        DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],
            AUTHORITY["EPSG","1043"]],
        PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],
        UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4490"]],
    PROJECTION["Transverse_Mercator"],
    PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",108],PARAMETER["scale_factor",1],
    PARAMETER["false_easting",500000],PARAMETER["false_northing",0],
    UNIT["metre",1,AUTHORITY["EPSG","9001"]],
    AXIS["Northing",NORTH],AXIS["Easting",EAST]]"""

WKT2_ANONYMOUS = """PROJCRS["Wuhai grid",
    BASEGEOGCRS["unknown",DATUM["unknown",ELLIPSOID["GRS 1980",6378137,298.257222101,LENGTHUNIT["metre",1]]],
        PRIMEM["Greenwich",0,ANGLEUNIT["degree",0.0174532925199433]]],
    CONVERSION["unnamed",METHOD["Transverse Mercator",ID["EPSG",9807]],
        PARAMETER["Latitude of natural origin",0,ANGLEUNIT["degree",0.0174532925199433]],
        PARAMETER["Longitude of natural origin",108,ANGLEUNIT["degree",0.0174532925199433]],
        PARAMETER["Scale factor at natural origin",1,SCALEUNIT["unity",1]],
        PARAMETER["False easting",36500000,LENGTHUNIT["metre",1]],
        PARAMETER["False northing",0,LENGTHUNIT["metre",1]]],
    CS[Cartesian,2],AXIS["easting",east,ORDER[1],LENGTHUNIT["metre",1]],
        AXIS["northing",north,ORDER[2],LENGTHUNIT["metre",1]]]"""


@pytest.mark.parametrize(
    ("given", "epsg", "kind", "prefixed"),
    [
        (OGC_WKT1, 4545, "gk3", False),
        (WKT2_ANONYMOUS, 4524, "gk3", True),
        (CRS.from_epsg(4538).to_wkt("WKT2_2019"), 4538, "gk3", False),
        ("EPSG:4517", 4517, "gk3", True),
        ("EPSG:4504", 4504, "gk6", False),  # EPSG's 6° CM form: same projection as 4538, labelled 6°
        (CRS.from_epsg(4524), 4524, "gk3", True),
        ("+proj=tmerc +lat_0=0 +lon_0=87 +k=1 +x_0=29500000 +y_0=0 +ellps=GRS80 +units=m +no_defs", 4517, "gk3", True),
        ("+proj=tmerc +lat_0=0 +lon_0=87 +k=1 +x_0=500000 +y_0=0 +ellps=IAU76 +units=m", 2374, "gk3", False),
        ("EPSG:4326", 4326, "geographic", None),
        ("EPSG:32645", 32645, "utm", None),
    ],
)
def test_recognises_wkt_proj_and_epsg(given, epsg, kind, prefixed):
    r = recognise(given)
    assert (r.epsg, r.kind, r.prefixed) == (epsg, kind, prefixed)


def test_local_central_meridian_is_a_projected_cgcs2000_without_epsg():
    r = recognise("+proj=tmerc +lat_0=0 +lon_0=86.1 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m")
    assert (r.epsg, r.datum, r.kind, r.central_meridian) == (None, "CGCS2000", "projected", 86.1)
    lon, lat = transformer_to_storage(r).transform(500000, 4620000)
    assert lon == pytest.approx(86.1) and 41 < lat < 42


def test_declared_towgs84_is_noted_not_applied():
    r = recognise("+proj=tmerc +lon_0=87 +k=1 +x_0=500000 +ellps=krass +towgs84=15.8,-154.4,-82.3 +units=m")
    assert (r.epsg, r.datum) == (2426, "Beijing1954")
    assert "TOWGS84 15.8,-154.4,-82.3" in r.note
    with pytest.raises(InvalidInput, match="TOWGS84 15.8,-154.4,-82.3"):
        transformer_to_storage(r, path="old.shp")


def test_other_datums_are_other():
    r = recognise("EPSG:4555")  # New Beijing, not Beijing 1954
    assert (r.datum, r.epsg, r.kind) == ("other", 4555, "geographic")
    assert recognise("EPSG:28415").datum == "other"  # Pulkovo 1942 / Gauss-Kruger zone 15


@pytest.mark.parametrize(
    ("given", "message"),
    [("PROJCS[nonsense", "cannot read"), ("", "empty"), ("EPSG:5773", "not a horizontal")],
)
def test_recognise_errors_name_the_file(given, message):
    with pytest.raises(InvalidInput, match=message) as e:
        recognise(given, path="roads.prj")
    assert str(e.value).startswith("roads.prj: ")


# --- every EPSG code in the tables, against PROJ's database ----------------------------------

LABEL = {"CGCS2000": "CGCS2000", "Xian1980": "Xian 1980", "Beijing1954": "Beijing 1954"}


def test_gk_tables_match_the_epsg_database():
    assert len(C._BY_EPSG) == 3 * (2 * 21 + 2 * 11)  # 3 datums x (3° + 6°) x (prefixed + CM form)
    for code, (datum, kind, zone, prefixed) in C._BY_EPSG.items():
        crs = CRS.from_epsg(code)
        cm = 3 * zone if kind == "gk3" else 6 * zone - 3
        width = "3-degree " if kind == "gk3" else ""
        tail = f"zone {zone}" if prefixed else f"CM {cm}E"
        assert crs.name == f"{LABEL[datum]} / {width}Gauss-Kruger {tail}", code
        params = {p.name: p.value for p in crs.coordinate_operation.params}
        assert params["Longitude of natural origin"] == cm
        assert params["False easting"] == (zone * 1_000_000 if prefixed else 0) + 500_000
        assert params["Scale factor at natural origin"] == 1
        assert recognise(crs).epsg == code
    assert {code: CRS.from_epsg(code).name for code in C._GEOGRAPHIC.values()} == {
        4490: "China Geodetic Coordinate System 2000", 4326: "WGS 84", 4610: "Xian 1980", 4214: "Beijing 1954",
    }
    assert [C.gk_epsg("CGCS2000", "gk3", 29, p) for p in (True, False)] == [4517, 4538]  # Korla
    assert [C.gk_epsg("CGCS2000", "gk3", 36, p) for p in (True, False)] == [4524, 4545]  # Wuhai


# --- transform to storage ----------------------------------------------------------------------

KORLA_4538 = (429279.638, 4621996.985)  # 86.15E 41.73N
WUHAI_4545 = (397034.386, 4393577.022)  # 106.80E 39.67N


def test_korla_lands_at_lon_lat_not_swapped():
    lon, lat = transformer_to_storage(recognise("EPSG:4538")).transform(*KORLA_4538)
    assert lon == pytest.approx(86.15, abs=1e-6) and lat == pytest.approx(41.73, abs=1e-6)


@pytest.mark.parametrize(
    ("short", "prefixed", "zone", "xy"), [(4538, 4517, 29, KORLA_4538), (4545, 4524, 36, WUHAI_4545)]
)
def test_short_and_prefixed_forms_give_the_same_lon_lat(short, prefixed, zone, xy):
    a = transformer_to_storage(recognise(f"EPSG:{short}")).transform(*xy)
    b = transformer_to_storage(CRS.from_epsg(prefixed)).transform(xy[0] + zone * 1_000_000, xy[1])
    assert a == pytest.approx(b, abs=1e-6)
    assert plausible_for_region((*a, *a))


def test_wgs84_is_accepted_through_the_null_transform():
    lon, lat = transformer_to_storage(recognise(GCS_WGS)).transform(86.15, 41.73)
    assert (lon, lat) == pytest.approx((86.15, 41.73), abs=1e-12)


@pytest.mark.parametrize(
    ("source", "label"), [("EPSG:2374", "Xi'an 1980"), ("EPSG:2412", "Beijing 1954"), ("EPSG:4610", "Xi'an 1980")]
)
def test_legacy_datums_are_refused_without_towgs84(source, label):
    with pytest.raises(InvalidInput) as e:
        transformer_to_storage(recognise(source), path="old/sheet.shp")
    message = str(e.value)
    assert message.startswith("old/sheet.shp: ") and label in message and "towgs84" in message


def test_unknown_transform_is_refused_rather_than_ballparked():
    with pytest.raises(InvalidInput, match="New Beijing"):
        transformer_to_storage(recognise("EPSG:4555"), path="x.shp")


def _null_and_shifted(source, towgs84, xy):
    null = Transformer.from_crs(source, 4490, always_xy=True).transform(*xy)  # PROJ's ballpark
    return null, transformer_to_storage(recognise(source), towgs84=towgs84).transform(*xy)


def test_xian_with_three_parameters_shifts_by_about_their_size():
    dx, dy, dz = 24, -120, -60
    null, shifted = _null_and_shifted("EPSG:2374", f"{dx},{dy},{dz}", KORLA_4538)
    _, _, metres = Geod(ellps="GRS80").inv(*null, *shifted)
    # the translation's horizontal part in Korla's local east/north frame (the ellipsoid change is cm)
    lon, lat = map(math.radians, null)
    east = -math.sin(lon) * dx + math.cos(lon) * dy
    north = -math.sin(lat) * math.cos(lon) * dx - math.sin(lat) * math.sin(lon) * dy + math.cos(lat) * dz
    assert metres == pytest.approx(math.hypot(east, north), abs=0.5)
    assert metres > 40


def test_seven_parameters_match_a_hand_built_position_vector_helmert():
    towgs84 = "-30,100,50,0.5,-1.2,2,3"
    null, shifted = _null_and_shifted("EPSG:2412", towgs84, (36_397_034.386, 4_393_577.022))
    lon, lat = Transformer.from_crs(2412, 4214, always_xy=True).transform(36_397_034.386, 4_393_577.022)
    by_hand = Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad +step +proj=cart +ellps=krass "
        "+step +proj=helmert +x=-30 +y=100 +z=50 +rx=0.5 +ry=-1.2 +rz=2 +s=3 +convention=position_vector "
        "+step +inv +proj=cart +ellps=GRS80 +step +proj=unitconvert +xy_in=rad +xy_out=deg"
    ).transform(lon, lat)
    assert shifted == pytest.approx(by_hand, abs=1e-9)
    assert Geod(ellps="GRS80").inv(*null, *shifted)[2] > 50


def test_named_towgs84_from_settings(settings):
    settings.GEOPLATFORM = {**settings.GEOPLATFORM, "TOWGS84": {"korla-xian80": "24,-120,-60"}}
    named = transformer_to_storage(recognise("EPSG:2374"), towgs84="korla-xian80").transform(*KORLA_4538)
    given = transformer_to_storage(recognise("EPSG:2374"), towgs84="24,-120,-60").transform(*KORLA_4538)
    assert named == given
    with pytest.raises(InvalidInput, match=r"known: korla-xian80"):
        transformer_to_storage(recognise("EPSG:2374"), towgs84="wuhai", path="a.shp")


def test_named_towgs84_tolerates_settings_without_the_key(settings):
    settings.GEOPLATFORM = {k: v for k, v in settings.GEOPLATFORM.items() if k != "TOWGS84"}
    with pytest.raises(InvalidInput, match="none configured"):
        transformer_to_storage(recognise("EPSG:2374"), towgs84="korla", path="a.shp")


@pytest.mark.parametrize("bad", ["1,2", "1,2,3,4", "1,2,x", "1,2,nan"])
def test_bad_towgs84_is_refused(bad):
    with pytest.raises(InvalidInput, match=r"^a\.shp: .*3 or 7 numbers|^a\.shp: .*towgs84"):
        transformer_to_storage(recognise("EPSG:2374"), towgs84=bad, path="a.shp")


def test_towgs84_on_a_cgcs2000_source_is_refused():
    with pytest.raises(InvalidInput, match="declared in CGCS2000"):
        transformer_to_storage(recognise("EPSG:4538"), towgs84="1,2,3", path="a.shp")


# --- files without a CRS -----------------------------------------------------------------------


def test_prefixed_easting_is_assumed_cgcs2000_and_says_so():
    r = guess_from_coordinates((29_429_250, 4_620_000, 29_430_750, 4_623_000))
    assert isinstance(r, Recognised)
    assert (r.epsg, r.datum, r.kind, r.zone, r.prefixed) == (4517, "CGCS2000", "gk3", 29, True)
    assert r.note == (
        "assumed CGCS2000 3-degree GK zone 29 (EPSG:4517) from zone-prefixed eastings "
        "29 429 250–29 430 750; pass --srs if the data is Xi'an 1980 or Beijing 1954"
    )
    wuhai = guess_from_coordinates((36_397_000, 4_393_000, 36_398_000, 4_394_000))
    assert (wuhai.epsg, wuhai.zone) == (4524, 36)
    six = guess_from_coordinates((15_420_000, 4_620_000, 15_430_000, 4_630_000))
    assert (six.epsg, six.kind, six.zone) == (4493, "gk6", 15) and "6-degree GK zone 15" in six.note


@pytest.mark.parametrize(
    "bounds",
    [
        (429_250, 4_620_000, 430_750, 4_623_000),  # short easting: any zone
        (86.1, 41.7, 86.2, 41.8),  # lon/lat: WGS84, CGCS2000 or Xi'an geographic alike
        (29_990_000, 4_620_000, 30_010_000, 4_623_000),  # spans two prefixes
        (4_620_000, 29_429_250, 4_623_000, 29_430_750),  # swapped axes
        (29_429_250, -10, 29_430_750, 100),  # northing at the equator: not China
        (50_429_250, 4_620_000, 50_430_750, 4_623_000),  # no such zone
        (float("nan"), 0, 1, 1),
    ],
)
def test_unidentifiable_coordinates_give_none(bounds):
    assert guess_from_coordinates(bounds) is None


# --- the user's --srs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "epsg"),
    [
        ("EPSG:4517", 4517),
        ("epsg:4538", 4538),
        ("4545", 4545),
        ("CGCS2000 GK3 CM87", 4538),
        ("cgcs2000-gk3-29", 4517),
        ("cgcs2000_gk3_cm108e", 4545),
        ("CGCS2000 GK3 zone 36", 4524),
        ("CGCS2000 3-degree GK CM 87E", 4538),
        ("cgcs2000 gk6 15", 4493),
        ("cgcs2000 gk6 cm87", 4504),
        ("xian80 gk3 cm87", 2374),
        ("Xi'an 1980 GK3 29", 2353),
        ("beijing54-gk3-36", 2412),
        ("bj54 gk6 cm87", 21455),
        ("CGCS2000", 4490),
        ("wgs84", 4326),
        ("WGS84 UTM 45N", 32645),
        ("CGCS2000 / 3-degree Gauss-Kruger CM 87E", 4538),
        (CRS.from_epsg(4517).to_wkt(), 4517),
        ("+proj=longlat +ellps=GRS80 +no_defs", None),
    ],
)
def test_parse_user_srs(text, epsg):
    crs = parse_user_srs(text)
    assert isinstance(crs, CRS)
    if epsg is None:
        assert crs.is_geographic
    else:
        assert crs.to_epsg() == epsg


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("korla", "not recognised"),
        ("EPSG:99999", "not in the EPSG database"),
        ("cgcs2000 gk3", "give the zone"),
        ("cgcs2000 gk3 86", "central meridians"),
        ("cgcs2000 gk3 zone 12", "zones run 25-45"),
        ("cgcs2000 29", "gk3, gk6 or utm"),
        ("wgs84 gk3 29", "Gauss-Krüger zones are defined"),
        ("xian80 utm 45n", "UTM is supported for WGS84"),
        ("EPSG:5773", "not a horizontal"),
    ],
)
def test_bad_user_srs_lists_the_accepted_forms(text, why):
    with pytest.raises(InvalidInput) as e:
        parse_user_srs(text)
    assert why in str(e.value) and "accepted forms" in str(e.value) and "EPSG:4517" in str(e.value)


# --- region sanity -----------------------------------------------------------------------------


def test_swapped_axes_land_outside_china():
    t = transformer_to_storage(recognise("EPSG:4538"))
    good = t.transform_bounds(*KORLA_4538, *KORLA_4538)
    swapped = t.transform_bounds(KORLA_4538[1], KORLA_4538[0], KORLA_4538[1], KORLA_4538[0])
    assert plausible_for_region(good)
    assert not plausible_for_region(swapped)
    check_region(good, path="a.shp")
    outside = r"^a\.shp: coordinates land at .*outside China; wrong --srs or swapped axes\?"
    with pytest.raises(InvalidInput, match=outside):
        check_region(swapped, path="a.shp")


def test_region_bounds():
    assert plausible_for_region((86.0, 41.0, 87.0, 42.0)) and plausible_for_region((106.7, 39.5, 106.9, 39.8))
    assert not plausible_for_region((41.73, 86.15, 41.73, 86.15))  # lat/lon swapped
    assert not plausible_for_region((2.35, 48.85, 2.36, 48.86))
    assert not plausible_for_region((math.nan, 0, 0, 0))
