#!/usr/bin/env python3
"""Generate a SYNTHETIC CASS-style 1:500 DXF sheet of central Korla (库尔勒).

    .venv/bin/python sample_data/make_cass_dxf.py

Writes, next to this script:
  dxf/korla_4622.00-429.25.dxf   one 50 cm x 50 cm sheet (250 m x 250 m), DXF R2010 (UTF-8)

Everything here is INVENTED test data: no survey was carried out. The buildings,
roads, heights, names and feature codes are made up to look like what South
Surveying's CASS delivers, so the DXF reader can be tested on a realistic sheet.

The file is DXF R2010, so its text is UTF-8; the header says $DWGCODEPAGE ANSI_936, as AutoCAD
on a Chinese Windows writes (readers must not decode R2007+ text with it).

Coordinates are EPSG:4538 (CGCS2000 / 3-degree GK CM 87E, short easting) in CAD
order: x = easting 429 250-429 500, y = northing 4 622 000-4 622 250, the sheet
"4622.00-429.25" of sample_data/korla_sheet_index.geojson. Heights are about
925-936 m on an invented gently sloping surface.

What is in it (CASS layers; feature codes in XDATA of the application "SOUTH",
as a 1000 string or a 1071 long; the six-digit values are CASS-style, illustrative):
  TK    inner sheet frame (closed LWPOLYLINE) + sheet name, number and scale text
  JMD   26 buildings (closed LWPOLYLINEs, one L-shaped) + 1 open fence line (围墙), which the
        mapping leaves on the Polygon target "buildings" so the pipeline refuses and reports it
  ZJ    building labels ("砼4", "砖2", ...), street, unit and water names (TEXT, MTEXT)
  DLSS  4 kerb lines with curved corners (bulges), 2 centre lines, 2 estate-road edges
  SXSS  a canal (open LWPOLYLINE) and a pond (closed LWPOLYLINE)
  DGX   contours, 1 m interval (LWPOLYLINE with its elevation, group code 38)
  JQX   index contours every 5 m (3D POLYLINE with Z) + their height labels (TEXT)
  GCD   spot heights: INSERT of block GC200 at (x, y, Z) with attribute H = "928.35"
  KZD   control points D01-D03: INSERT of block KZD_GPS with attributes NAME and H
  DLDW  street lamps: INSERT of block LUDENG
  ZBTZ  a green space (closed LWPOLYLINE) + grass symbols (INSERT of block CD)
  SJW   leftover triangulation lines (LINE), a layer the CASS mapping does not know

Requirements: ezdxf and shapely. Deterministic: random.Random(2026), ezdxf's fixed meta data
(no timestamps or GUIDs) and a sorted CLASSES section, so re-running gives identical bytes
whatever PYTHONHASHSEED is. The committed file was written by ezdxf 1.4.5; another ezdxf
version may write equivalent but not byte-identical output.
"""

import math
import random
from pathlib import Path

import ezdxf
from ezdxf.enums import TextEntityAlignment
from shapely.geometry import Point, Polygon

OUT = Path(__file__).resolve().parent / "dxf" / "korla_4622.00-429.25.dxf"
X0, Y0 = 429_250.0, 4_622_000.0  # SW corner of the sheet (easting, northing)
SHEET = 250.0
SEED = 2026
APP = "SOUTH"

# CASS-style six-digit codes (illustrative, not GB/T 13923).
CODE = {
    "house": "141101",  # 一般房屋
    "simple_house": "141200",  # 简单房屋
    "fence": "144301",  # 围墙
    "main_road": "164100",  # 主干道边线
    "centre_line": "164900",  # 道路中心线
    "estate_road": "164200",  # 支路/内部道路
    "canal": "182300",  # 沟渠
    "pond": "182400",  # 池塘
    "contour": 201101,  # 首曲线 (written as a 1071 long)
    "index_contour": 201102,  # 计曲线 (1071 long)
    "spot_height": "202101",  # 高程点
    "control_point": "131800",  # 卫星定位等级点
    "street_lamp": "155100",  # 路灯
    "grass": "211400",  # 草地
}


def height(x: float, y: float) -> float:
    """The invented terrain (m) at sheet-relative (x, y): rising to the east, gently undulating."""
    return 925.6 + 0.034 * x + 0.006 * y + 0.8 * math.sin(2 * math.pi * y / 320)


def xy(x, y):
    return (X0 + x, Y0 + y)


def tag(entity, code):
    entity.set_xdata(APP, [(1071, code)] if isinstance(code, int) else [(1000, code)])
    return entity


def setup(doc):
    doc.appids.add(APP)
    doc.styles.add("HZ", font="tssdeng.shx").dxf.bigfont = "hztxt.shx"
    colours = {"TK": 7, "JMD": 2, "DLSS": 3, "SXSS": 4, "DGX": 34, "JQX": 34, "GCD": 1, "KZD": 1,
               "DLDW": 6, "ZBTZ": 82, "ZJ": 7, "SJW": 8}
    for name, colour in colours.items():
        doc.layers.add(name, color=colour)
    doc.linetypes.add("CENTER", pattern=[2.0, 1.25, -0.25, 0.25, -0.25], description="Center ____ _ ____")
    # Blocks drawn at 1:500 size (CASS scales its mm-sized symbols by 0.5).
    gc = doc.blocks.new("GC200")
    gc.add_circle((0, 0), 0.25)
    gc.add_attdef("H", (0.8, -0.6), dxfattribs={"height": 1.0, "style": "HZ"})
    kzd = doc.blocks.new("KZD_GPS")
    kzd.add_lwpolyline([(0, 1.2), (-1.04, -0.6), (1.04, -0.6)], close=True)
    kzd.add_point((0, 0))
    kzd.add_attdef("NAME", (2.0, 0.3), dxfattribs={"height": 1.5, "style": "HZ"})
    kzd.add_attdef("H", (2.0, -1.7), dxfattribs={"height": 1.5, "style": "HZ"})
    lamp = doc.blocks.new("LUDENG")
    lamp.add_circle((0, 0), 0.4)
    lamp.add_line((0, 0.4), (0, 1.5))
    grass = doc.blocks.new("CD")
    grass.add_line((-0.5, 0), (-0.8, 0.8))
    grass.add_line((0.5, 0), (0.8, 0.8))


def bulge_for_turn(d_in, d_out):
    """Bulge of a quarter-circle arc joining two perpendicular directions (+ = counter-clockwise)."""
    cross = d_in[0] * d_out[1] - d_in[1] * d_out[0]
    return math.copysign(math.tan(math.radians(90) / 4), cross)


def unit(dx, dy):
    length = math.hypot(dx, dy)
    return dx / length, dy / length


def kerb(points, corner, radius=8.0):
    """An L-shaped kerb through `corner` with a rounded corner: (x, y, bulge) vertices."""
    (ax, ay), (cx, cy), (bx, by) = points[0], corner, points[-1]
    d_in, d_out = unit(cx - ax, cy - ay), unit(bx - cx, by - cy)
    p1 = (cx - d_in[0] * radius, cy - d_in[1] * radius)
    p2 = (cx + d_out[0] * radius, cy + d_out[1] * radius)
    return [(*xy(ax, ay), 0), (*xy(*p1), bulge_for_turn(d_in, d_out)), (*xy(*p2), 0), (*xy(bx, by), 0)]


def rect(x1, y1, x2, y2):
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


# Buildings: (sheet-relative outline, code, label) — the label is structure + floors.
def buildings(rng):
    out = []
    structures = ["砼", "砼", "砖", "混"]
    # SW: 天山花园小区, two columns west of the estate road, one east, four rows.
    for y1 in (10, 38, 66, 92):
        for x1, x2 in ((8, 30), (36, 60), (82, 130)):
            out.append((rect(x1, y1, x2, y1 + 12), CODE["house"], f"{rng.choice(structures)}{rng.randint(4, 7)}"))
    # SE: 库尔勒市第二中学, an L-shaped teaching building and three smaller ones.
    out.append(([(170, 75), (240, 75), (240, 110), (222, 110), (222, 90), (170, 90)], CODE["house"], "砼5"))
    out.append((rect(170, 10, 190, 30), CODE["house"], "砖2"))
    out.append((rect(170, 40, 195, 60), CODE["house"], "砼3"))
    out.append((rect(200, 10, 215, 22), CODE["simple_house"], "简1"))
    # NW: 孔雀小区, 3 x 2 blocks and a kiosk.
    for y1, y2 in ((155, 175), (190, 215)):
        for x1, x2 in ((10, 40), (55, 85), (100, 130)):
            out.append((rect(x1, y1, x2, y2), CODE["house"], f"{rng.choice(structures)}{rng.randint(2, 12)}"))
    out.append((rect(60, 222, 66, 226), CODE["simple_house"], "简1"))
    # NE: three buildings north of the green space.
    for x1, x2 in ((168, 188), (195, 215), (222, 242)):
        out.append((rect(x1, 200, x2, 225), CODE["house"], f"砼{rng.randint(6, 18)}"))
    return out


def label_point(outline):
    poly = Polygon(outline)
    p = poly.centroid if poly.contains(poly.centroid) else poly.representative_point()
    return p.x, p.y


def main():
    rng = random.Random(SEED)
    ezdxf.options.write_fixed_meta_data_for_testing = True
    doc = ezdxf.new("R2010", setup=False)
    # What AutoCAD on a Chinese Windows writes: R2010 text is UTF-8 whatever this header says.
    doc.encoding = "gbk"  # -> $DWGCODEPAGE ANSI_936
    doc.header["$INSUNITS"] = 6  # metres
    setup(doc)
    msp = doc.modelspace()

    def text(s, x, y, h=2.0, layer="ZJ", rotation=0.0, z=0.0):
        t = msp.add_text(s, height=h, rotation=rotation, dxfattribs={"layer": layer, "style": "HZ"})
        t.set_placement((*xy(x, y), z), align=TextEntityAlignment.MIDDLE_CENTER)
        return t

    # TK: inner frame = the sheet, sheet name above, number below the name, scale below the frame.
    msp.add_lwpolyline([xy(*p) for p in rect(0, 0, SHEET, SHEET)], close=True, dxfattribs={"layer": "TK"})
    text("人民东路", 125, 272, h=6, layer="TK")
    text("4622.00-429.25", 125, 262, h=4, layer="TK")
    text("1:500", 125, -12, h=4, layer="TK")

    # JMD + ZJ labels.
    houses = buildings(rng)
    footprints = [Polygon(o) for o, _, _ in houses]
    for outline, code, label in houses:
        tag(msp.add_lwpolyline([xy(*p) for p in outline], close=True, dxfattribs={"layer": "JMD"}), code)
        text(label, *label_point(outline), h=2.0)
    fence = [(165, 5), (165, 113), (245, 113)]
    tag(msp.add_lwpolyline([xy(*p) for p in fence], dxfattribs={"layer": "JMD"}), CODE["fence"])

    # DLSS: 人民东路 (E-W, kerbs y = 118 / 142), 天山东路 (N-S, kerbs x = 140 / 160).
    for pts, corner in (
        (((0, 118), (140, 0)), (140, 118)),
        (((250, 118), (160, 0)), (160, 118)),
        (((0, 142), (140, 250)), (140, 142)),
        (((250, 142), (160, 250)), (160, 142)),
    ):
        tag(msp.add_lwpolyline(kerb(pts, corner), format="xyb", dxfattribs={"layer": "DLSS"}), CODE["main_road"])
    for line in ([xy(0, 130), xy(250, 130)], [xy(150, 0), xy(150, 250)]):
        tag(msp.add_lwpolyline(line, dxfattribs={"layer": "DLSS", "linetype": "CENTER"}), CODE["centre_line"])
    for x in (68, 74):  # estate road of 天山花园
        tag(msp.add_lwpolyline([xy(x, 4), xy(x, 118)], dxfattribs={"layer": "DLSS"}), CODE["estate_road"])

    # SXSS: 团结渠 (single-line canal) and a pond.
    canal = [xy(x, 234 + 3 * math.sin(x / 40)) for x in range(0, 251, 25)]
    tag(msp.add_lwpolyline(canal, dxfattribs={"layer": "SXSS"}), CODE["canal"])
    pond = [xy(215 + (14 + 3 * math.sin(3 * a)) * math.cos(a), 40 + (11 + 2 * math.cos(2 * a)) * math.sin(a))
            for a in (i * 2 * math.pi / 12 for i in range(12))]
    tag(msp.add_lwpolyline(pond, close=True, dxfattribs={"layer": "SXSS"}), CODE["pond"])

    # ZBTZ: green space with grass symbols.
    green = [(168, 150), (242, 150), (242, 192), (205, 195), (168, 190)]
    tag(msp.add_lwpolyline([xy(*p) for p in green], close=True, dxfattribs={"layer": "ZBTZ"}), CODE["grass"])
    for x, y in ((180, 160), (200, 160), (220, 160), (190, 178), (210, 178), (230, 175)):
        tag(msp.add_blockref("CD", xy(x, y), dxfattribs={"layer": "ZBTZ"}), CODE["grass"])

    # ZJ: street, unit and water names. MTEXT carries CASS-like font codes and a paragraph break.
    text("人民东路", 60, 130.5, h=4)
    text("人民东路", 205, 134, h=4)
    text("天山东路", 145, 60, h=4, rotation=90)
    text("天山东路", 145, 195, h=4, rotation=90)
    text("团结渠", 100, 240, h=3)
    text("塘", 215, 40, h=2.5)
    for s, x, y in (
        (r"{\fSimSun|b0|i0|c134|p2;天山花园}\P小区", 35, 30),
        (r"{\fSimSun|b0|i0|c134|p2;库尔勒市第二中学}", 205, 67),
        (r"{\fSimSun|b0|i0|c134|p2;孔雀小区}", 70, 182),
        (r"{\fSimSun|b0|i0|c134|p2;绿地}", 205, 170),
    ):
        msp.add_mtext(s, dxfattribs={"layer": "ZJ", "style": "HZ", "char_height": 3.0, "insert": xy(x, y),
                                     "attachment_point": 5})

    # DGX / JQX: contours of height(); x solved for each y (the terrain is monotonic in x).
    def contour_x(level, y):
        return (level - 925.6 - 0.006 * y - 0.8 * math.sin(2 * math.pi * y / 320)) / 0.034

    contours = 0
    for level in range(924, 938):
        run = []
        for y in [i * 5.0 for i in range(51)] + [None]:
            x = contour_x(level, y) if y is not None else None
            if x is not None and 0 <= x <= SHEET:
                run.append((x, y))
                continue
            if len(run) >= 2:
                contours += 1
                pts = [xy(px, py) for px, py in run]
                if level % 5 == 0:
                    tag(msp.add_polyline3d([(*p, float(level)) for p in pts], dxfattribs={"layer": "JQX"}),
                        CODE["index_contour"])
                    mx, my = run[len(run) // 3]
                    text(str(level), mx, my, h=2.0, layer="JQX", rotation=90, z=float(level))
                else:
                    tag(msp.add_lwpolyline(pts, dxfattribs={"layer": "DGX", "elevation": float(level)}),
                        CODE["contour"])
            run = []

    # GCD: spot heights, 30 points >= 15 m apart, off the buildings; Z = the height.
    spots = []
    while len(spots) < 30:
        x, y = rng.uniform(8, SHEET - 8), rng.uniform(8, SHEET - 8)
        if any(f.buffer(1.5).contains(Point(x, y)) for f in footprints):
            continue
        if any(math.hypot(x - sx, y - sy) < 15 for sx, sy, _ in spots):
            continue
        spots.append((x, y, round(height(x, y) + rng.uniform(-0.08, 0.08), 2)))
    for x, y, z in spots:
        ref = tag(msp.add_blockref("GC200", (*xy(x, y), z), dxfattribs={"layer": "GCD"}), CODE["spot_height"])
        ref.add_auto_attribs({"H": f"{z:.2f}"})
        for attrib in ref.attribs:
            attrib.dxf.layer = "GCD"

    # KZD: control points with name and height attributes.
    for name, x, y in (("D01", 30, 135), ("D02", 235, 8), ("D03", 125, 228)):
        z = round(height(x, y) + 0.012, 3)
        ref = tag(msp.add_blockref("KZD_GPS", (*xy(x, y), z), dxfattribs={"layer": "KZD"}), CODE["control_point"])
        ref.add_auto_attribs({"NAME": name, "H": f"{z:.3f}"})
        for attrib in ref.attribs:
            attrib.dxf.layer = "KZD"

    # DLDW: street lamps along both roads.
    for x, y in ((20, 120), (60, 120), (100, 120), (190, 120), (230, 120), (158, 40), (158, 80), (158, 180),
                 (158, 220)):
        tag(msp.add_blockref("LUDENG", xy(x, y), dxfattribs={"layer": "DLDW"}), CODE["street_lamp"])

    # SJW: a few triangulation edges left over from building the DTM (not in the CASS mapping).
    for (ax, ay, az), (bx, by, bz) in zip(spots[:6], spots[1:7]):
        msp.add_line((*xy(ax, ay), az), (*xy(bx, by), bz), dxfattribs={"layer": "SJW"})

    doc.set_modelspace_vport(height=SHEET * 1.2, center=xy(SHEET / 2, SHEET / 2))
    # ezdxf registers a CLASS per entity type in use from a set, in hash-seed order: register
    # them all now and sort them, so the output bytes do not depend on PYTHONHASHSEED.
    doc.classes.add_required_classes(doc.dxfversion)
    doc.classes.classes = dict(sorted(doc.classes.classes.items()))
    OUT.parent.mkdir(exist_ok=True)
    doc.saveas(OUT)
    print(f"{OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}: "
          f"{len(houses)} buildings, {contours} contours, {len(spots)} spot heights")


if __name__ == "__main__":
    main()
