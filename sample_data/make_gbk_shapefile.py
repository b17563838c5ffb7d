#!/usr/bin/env python3
"""Generate a SYNTHETIC GBK-encoded Shapefile of buildings (房屋) in central Korla (库尔勒).

    .venv/bin/python sample_data/make_gbk_shapefile.py

Writes, under sample_data/gbk_shapefile/:
  korla_buildings_gbk.{shp,shx,dbf,prj}   40 building footprints (Polygon)
  库尔勒房屋.{shp,shx,dbf,prj}              the same bytes under a Chinese file name

Everything here is INVENTED test data: the buildings, names, structures, floor counts and
areas are made up and describe no real building, even where a name sounds plausible.

What the file imitates: a Shapefile exported by Chinese desktop GIS on a Windows machine
with code page 936, the case the loader must get right (see ingest/encoding.py):
  - attributes AND field names in GBK (cp936): 名称, 结构, 层数, 用途, 面积 (each at most
    10 bytes in GBK, the dBase limit), plus an ASCII BSM (标识码) field;
  - NO .cpg file, and the DBF language driver byte (offset 29) is 0, so nothing in the
    files says "GBK": `ogrinfo -al korla_buildings_gbk.shp` passes the raw GBK bytes
    through (garbage on a UTF-8 terminal), pyogrio without encoding= decodes them as
    ISO-8859-1 (名称 -> "Ãû³Æ"), and only
    `ogrinfo --config SHAPE_ENCODING GB18030 -al korla_buildings_gbk.shp` shows them right;
  - a .prj with the ESRI WKT1 that ArcGIS writes for EPSG:4538
    ("CGCS2000_3_Degree_GK_CM_87E", pyproj's CRS.from_epsg(4538).to_wkt("WKT1_ESRI")).

Geometry: CGCS2000 / 3-degree Gauss-Kruger CM 87E, short-form easting (EPSG:4538), in the
area of the synthetic sheet index (korla_sheet_index.geojson): E 429 250-430 750 m,
N 4 622 000-4 623 000 m. One building per 75 m x 62.5 m cell of that 1.5 km x 1 km
area (40 of the 320 cells, so footprints never overlap): rectangles 8-30 m a side, about a
quarter L-shaped, rotated with the street grid; coordinates rounded to the millimetre.
面积 is the floor area (建筑面积) = footprint area x 层数, in m², 2 decimals.

Deterministic: random.Random(2026), a fixed DBF "last update" date (2024-05-20) and
no timestamps elsewhere, so re-running gives byte-identical files.

Requirements: the project venv (pyogrio with its bundled GDAL, shapely 2, pyproj).
pyogrio.raw.write(..., encoding="GBK") writes a proper GBK .dbf (GDAL recodes the UTF-8
strings and field names); this script then deletes the .cpg GDAL adds, zeroes the
language driver byte and fixes the header date.
"""

import random
import shutil
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
from pyproj import CRS
from shapely import affinity

OUT_DIR = Path(__file__).resolve().parent / "gbk_shapefile"
STEM = "korla_buildings_gbk"
CHINESE_STEM = "库尔勒房屋"
SEED = 2026
N_BUILDINGS = 40

ORIGIN_E, ORIGIN_N = 429_250, 4_622_000  # SW corner of the sheet index
COLS, ROWS = 20, 16  # 75 m x 62.5 m cells over 1 500 m x 1 000 m
CELL_E, CELL_N = 1500 / COLS, 1000 / ROWS
DBF_DATE = (2024 - 1900, 5, 20)  # dBase "last update" (YY since 1900, MM, DD)

# use (用途) -> (structure choices, floors range, width range, depth range, L-shape allowed)
KINDS = {
    "居民住宅": (("砖混", "钢混"), (5, 18), (18, 30), (10, 15), True),
    "教育科研": (("钢混", "框架"), (3, 5), (20, 30), (12, 18), True),
    "医疗卫生": (("框架", "钢混"), (3, 8), (20, 30), (14, 20), True),
    "商业服务": (("框架", "钢结构"), (1, 4), (12, 30), (10, 25), True),
    "办公": (("框架", "钢混"), (4, 12), (20, 30), (12, 16), True),
    "工业仓储": (("钢结构", "砖混"), (1, 2), (20, 30), (15, 30), False),
    "公共设施": (("砖木", "砖混", "简易"), (1, 1), (8, 10), (8, 10), False),
}

NAMES = [
    ("库尔勒市第一中学教学楼", "教育科研"),
    ("库尔勒市第一中学实验楼", "教育科研"),
    ("库尔勒市第一中学门卫室", "公共设施"),
    ("萨依巴格小学综合楼", "教育科研"),
    ("梨香小区1号楼", "居民住宅"),
    ("梨香小区2号楼", "居民住宅"),
    ("梨香小区3号楼", "居民住宅"),
    ("梨香小区5号楼", "居民住宅"),
    ("梨香小区配电房", "公共设施"),
    ("孔雀河畔小区A座", "居民住宅"),
    ("孔雀河畔小区B座", "居民住宅"),
    ("孔雀河畔小区C座", "居民住宅"),
    ("天山东路家属院1栋", "居民住宅"),
    ("天山东路家属院2栋", "居民住宅"),
    ("建设路安置房7号楼", "居民住宅"),
    ("建设路安置房8号楼", "居民住宅"),
    ("人民东路居民住宅", "居民住宅"),
    ("石化大道职工宿舍", "居民住宅"),
    ("团结南路居民楼", "居民住宅"),
    ("新城花园12号楼", "居民住宅"),
    ("新城花园锅炉房", "公共设施"),
    ("市社区卫生服务中心门诊楼", "医疗卫生"),
    ("巴音路街道卫生院", "医疗卫生"),
    ("库尔勒市自然资源局办公楼", "办公"),
    ("巴音路街道办事处", "办公"),
    ("萨依巴格街道便民服务中心", "办公"),
    ("天百商厦", "商业服务"),
    ("孔雀河商业步行街1号商铺", "商业服务"),
    ("孔雀河商业步行街2号商铺", "商业服务"),
    ("香梨大道农贸市场", "商业服务"),
    ("新华书店门市", "商业服务"),
    ("梨城宾馆", "商业服务"),
    ("香梨冷藏库", "工业仓储"),
    ("农机仓库", "工业仓储"),
    ("建材批发仓库", "工业仓储"),
    ("人民广场公厕", "公共设施"),
    ("孔雀公园管理用房", "公共设施"),
    ("10kV开闭所", "公共设施"),
    ("加压泵房", "公共设施"),
    ("消防站执勤楼", "办公"),
]
assert len(NAMES) == N_BUILDINGS

# Field names: each must fit dBase's 10 bytes *in GBK* (2 bytes per Chinese character).
FIELDS = ["BSM", "名称", "结构", "层数", "用途", "面积"]
assert all(len(name.encode("gbk")) <= 10 for name in FIELDS)


def footprint(rng: random.Random, cx: float, cy: float, kind: str) -> shapely.Polygon:
    _structures, _floors, (w0, w1), (d0, d1), may_be_l = KINDS[kind]
    w, d = rng.uniform(w0, w1), rng.uniform(d0, d1)
    if may_be_l and rng.random() < 0.3:
        # L-shape: a w x d rectangle without its north-east corner
        cw, cd = w * rng.uniform(0.35, 0.6), d * rng.uniform(0.35, 0.6)
        coords = [(0, 0), (w, 0), (w, d - cd), (w - cw, d - cd), (w - cw, d), (0, d)]
    else:
        coords = [(0, 0), (w, 0), (w, d), (0, d)]
    poly = shapely.Polygon([(x - w / 2, y - d / 2) for x, y in coords])
    angle = rng.choice((0.0, -12.0, -12.0, 15.0)) + rng.uniform(-2, 2)  # along the street grid
    poly = affinity.rotate(poly, angle, origin=(0, 0))
    poly = affinity.translate(poly, cx, cy)
    return shapely.set_precision(poly, 0.001)  # survey data: millimetres


def build(rng: random.Random):
    cells = rng.sample(range(COLS * ROWS), N_BUILDINGS)
    geoms, bsm, names, structures, floors, uses, areas = [], [], [], [], [], [], []
    for i, (cell, (name, kind)) in enumerate(zip(cells, NAMES), start=1):
        col, row = cell % COLS, cell // COLS
        cx = ORIGIN_E + (col + 0.5) * CELL_E + rng.uniform(-5, 5)
        cy = ORIGIN_N + (row + 0.5) * CELL_N + rng.uniform(-5, 5)
        poly = footprint(rng, cx, cy, kind)
        structure_choices, (f0, f1), *_ = KINDS[kind]
        n_floors = rng.randint(f0, f1)
        geoms.append(poly)
        bsm.append(652801_0000 + i)  # 标识码: adcode of 库尔勒市 + serial (invented scheme)
        names.append(name)
        structures.append(rng.choice(structure_choices))
        floors.append(n_floors)
        uses.append(kind)
        areas.append(round(poly.area * n_floors, 2))
    field_data = [
        np.array(bsm, dtype=np.int64),
        np.array(names, dtype=object),
        np.array(structures, dtype=object),
        np.array(floors, dtype=np.int32),
        np.array(uses, dtype=object),
        np.array(areas, dtype=np.float64),
    ]
    return geoms, field_data


def write(stem: str, geoms, field_data) -> None:
    shp = OUT_DIR / f"{stem}.shp"
    for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        shp.with_suffix(suffix).unlink(missing_ok=True)
    pyogrio.raw.write(
        shp,
        np.array(shapely.to_wkb(geoms), dtype=object),
        field_data,
        FIELDS,
        driver="ESRI Shapefile",
        geometry_type="Polygon",
        crs=CRS.from_epsg(4538).to_wkt("WKT1_ESRI"),
        encoding="GBK",
        layer_options={"RESIZE": "YES"},  # text widths fitted to the data, as desktop GIS does
    )
    shp.with_suffix(".cpg").unlink()  # the point of the sample: no hint of the encoding
    dbf = shp.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    raw[1:4] = bytes(DBF_DATE)  # fixed "last update" date, for reproducible output
    raw[29] = 0  # language driver id: none (GDAL writes 0 here already when ENCODING is set)
    dbf.write_bytes(bytes(raw))
    # ArcGIS writes ESRI WKT1 on one line with no newline; GDAL's own .prj is the same
    # text, but write pyproj's explicitly so the file does not depend on the GDAL version.
    shp.with_suffix(".prj").write_text(CRS.from_epsg(4538).to_wkt("WKT1_ESRI"), encoding="ascii")


def main() -> None:
    OUT_DIR.mkdir(exist_ok=True)
    geoms, field_data = build(random.Random(SEED))
    assert shapely.is_valid(geoms).all()
    assert not any(a.intersects(b) for i, a in enumerate(geoms) for b in geoms[i + 1 :])
    write(STEM, geoms, field_data)
    for suffix in (".shp", ".shx", ".dbf", ".prj"):
        shutil.copyfile(OUT_DIR / f"{STEM}{suffix}", OUT_DIR / f"{CHINESE_STEM}{suffix}")
    print(f"wrote {len(geoms)} buildings to {OUT_DIR}/{STEM}.* and {CHINESE_STEM}.*")


if __name__ == "__main__":
    main()
