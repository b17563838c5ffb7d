#!/usr/bin/env python3
"""Generate SYNTHETIC raster samples (DEM, DOM) of central Korla (库尔勒) for the raster ingest.

    .venv/bin/python sample_data/make_raster.py OUTDIR [--force]

or, from Python (the demo loader calls this at load time, so no large binaries live in git):

    from sample_data.make_raster import generate
    paths = generate(Path(".data/sample_raster"))   # -> dict: name -> Path (or list of Paths)

Everything here is INVENTED: no survey or flight was made. The terrain, the imagery and the
buildings outside sheet 4622.00-429.25 are made up.

Area: E 429 000-430 000, N 4 621 750-4 622 750 in EPSG:4538 (CGCS2000 / 3-degree Gauss-Kruger
CM 87E, short easting), that is 1 km x 1 km around the synthetic 1:500 sheet 4622.00-429.25
(E 429 250-429 500, N 4 622 000-4 622 250; see make_synthetic.py and make_cass_dxf.py). The
sheet lies 250 m from the west and south edges, so the DEM also covers most of the sheet
index's 3 x 3 south-western sheets.

Files written into OUTDIR (keys of the returned dict in brackets):

  dem_korla_1m.tif                      [dem]        DEM, 1000 x 1000 cells of 1 m, float32, nodata
                                                     -9999, GeoTIFF (DEFLATE, tiled 256), EPSG:4538
  dem_korla_1m.points.json              [dem_points] named check points: lon/lat (CGCS2000), E/N and
                                                     the expected elevation for bilinear interpolation
  dem_korla_1m_tiles/dem_korla_1m_r{0,1}c{0,1}.tif
                                        [dem_mosaic] (list, sorted) the same DEM as a 2 x 2 mosaic of
                                                     500 x 500 tiles, r0 = north; [dem_mosaic_dir]
  dem_korla_4622.00-429.25.asc (+ .prj) [dem_asc, dem_asc_prj]
                                                     ESRI ASCII grid of the sheet only (250 x 250
                                                     cells), 3 decimals, ESRI WKT1 .prj
  dom_korla_0p5m.tif                    [dom]        orthophoto, 2000 x 2000 px of 0.5 m, RGB uint8,
                                                     GeoTIFF (DEFLATE), EPSG:4538
  dom_korla_0p5m_worldfile.tif (+ .tfw, .prj)
                                        [dom_worldfile, dom_tfw, dom_prj]
                                                     the same image as a plain baseline TIFF (no
                                                     GeoTIFF tags, uncompressed) with a world file
                                                     and an ESRI WKT1 .prj
  make_raster.stamp                     (internal) hash of this script and the DXF; when it matches,
                                                     generate() skips the work (force=True redoes it)

The terrain (metres, 1985 height datum in spirit) is analytic, in sheet-relative coordinates
x = E - 429 250, y = N - 4 622 000:

  z = 925.6 + 0.034 x + 0.006 y + 0.8 sin(2 pi y / 320)     the surface of make_cass_dxf.py,
                                                          so on the sheet the DEM equals the
                                                          DXF's contours and spot heights
      + hills: H cos^2(pi r / 2R) for r < R                 (compact support, none on the sheet)
      - a dry wash south of the sheet: flat bed 2.5 m deep, cos^2 banks

Range about 913-958 m. Away from the wash banks, the surface is planar to within 0.1 mm over
one cell, so bilinear interpolation between cell centres reproduces it (the points file gives
the analytic value; the script checks that bilinear interpolation of the written float32 grid
agrees within 1 mm). A 30 x 20 m void (nodata) lies in the north-west corner.

The DOM draws the DXF sheet's buildings (JMD, with their floors from the ZJ labels for the
shadows), roads (DLSS: road surface from the centre lines and kerb widths, kerb radius 8 m),
canal and pond (SXSS) and green space (ZBTZ). Outside the sheet it continues the two roads and
adds invented residential blocks, farmland with shelterbelts and pear orchards (香梨), the wash
and bare hills, shaded from the same DEM (sun from the south-south-east).

Requirements: numpy, rasterio, shapely, pyproj, ezdxf (all in the project's venv). Deterministic
(numpy default_rng(2026), no timestamps in the files) for given library versions. Runs in about
2-4 s; the outputs total about 35 MB.
"""

import argparse
import hashlib
import json
import math
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.features import rasterize
from rasterio.transform import from_origin
from rasterio.windows import Window

HERE = Path(__file__).resolve().parent
DXF = HERE / "dxf" / "korla_4622.00-429.25.dxf"
SEED = 2026
EPSG = 4538  # CGCS2000 / 3-degree Gauss-Kruger CM 87E, short easting
LONLAT_EPSG = 4490  # CGCS2000 geographic
NODATA = -9999.0

# Sheet 4622.00-429.25 (south-west corner) and the covered area, EPSG:4538 metres.
X0, Y0 = 429_250.0, 4_622_000.0
SHEET = 250.0
WEST, SOUTH, EAST, NORTH = 429_000.0, 4_621_750.0, 430_000.0, 4_622_750.0
DEM_RES = 1.0
DOM_RES = 0.5
# The same box in sheet-relative coordinates.
XMIN, YMIN, XMAX, YMAX = WEST - X0, SOUTH - Y0, EAST - X0, NORTH - Y0

HILLS = (  # (x, y, radius R, height H), sheet-relative metres; none reaches the sheet or a road
    (600.0, 600.0, 150.0, 9.0),  # "hill A", north-east
    (-170.0, 620.0, 85.0, 5.0),  # "hill B", north-west, among the fields
    (630.0, -40.0, 75.0, 6.0),  # "hill C", south-east
)
WASH_DEPTH, WASH_BED, WASH_BANK = 2.5, 6.0, 22.0  # m; flat bed half-width, outer edge of the banks
VOID = (-235.0, -205.0, 715.0, 735.0)  # x0, x1, y0, y1 of the nodata void (whole cells)


# ---------------------------------------------------------------------------- terrain

def base(x, y):
    """make_cass_dxf.height(): rising to the east, gently undulating."""
    return 925.6 + 0.034 * x + 0.006 * y + 0.8 * np.sin(2 * np.pi * y / 320)


def wash_centre(x):
    return -150.0 + 25.0 * np.sin(2 * np.pi * (x + 250.0) / 600.0)


def wash_distance(x, y):
    """Distance across the wash from its centre line (the vertical offset projected on the normal)."""
    slope = 25.0 * 2 * np.pi / 600.0 * np.cos(2 * np.pi * (x + 250.0) / 600.0)
    return np.abs(y - wash_centre(x)) / np.sqrt(1.0 + slope**2)


def wash_depth(x, y):
    d = wash_distance(x, y)
    t = np.clip((d - WASH_BED) / (WASH_BANK - WASH_BED), 0.0, 1.0)
    return WASH_DEPTH * np.cos(t * np.pi / 2) ** 2


def hill(x, y, cx, cy, r, h):
    d = np.hypot(x - cx, y - cy)
    return np.where(d < r, h * np.cos(np.minimum(d / r, 1.0) * np.pi / 2) ** 2, 0.0)


def terrain(x, y):
    """The analytic surface (m) at sheet-relative x, y (arrays or floats)."""
    z = base(x, y) - wash_depth(x, y)
    for cx, cy, r, h in HILLS:
        z = z + hill(x, y, cx, cy, r, h)
    return z


def centres(res):
    """Sheet-relative x (columns) and y (rows, north first) of the cell centres of a grid."""
    w, h = round((XMAX - XMIN) / res), round((YMAX - YMIN) / res)
    return XMIN + (np.arange(w) + 0.5) * res, YMAX - (np.arange(h) + 0.5) * res


def dem_array():
    xs, ys = centres(DEM_RES)
    z = terrain(xs[None, :], ys[:, None]).astype(np.float32)
    x0, x1, y0, y1 = VOID
    c0, c1 = int(x0 - XMIN), int(x1 - XMIN)
    r0, r1 = int(YMAX - y1), int(YMAX - y0)
    z[r0:r1, c0:c1] = NODATA
    return z


def bilinear(z, east, north):
    """Bilinear interpolation between cell centres, as the elevation query should do it."""
    col = (east - WEST) / DEM_RES - 0.5
    row = (NORTH - north) / DEM_RES - 0.5
    c, r = math.floor(col), math.floor(row)
    if not (0 <= c < z.shape[1] - 1 and 0 <= r < z.shape[0] - 1):
        return None
    q = z[r:r + 2, c:c + 2].astype(np.float64)
    if (q == NODATA).any():
        return None
    fx, fy = col - c, row - r
    return float(q[0, 0] * (1 - fx) * (1 - fy) + q[0, 1] * fx * (1 - fy) + q[1, 0] * (1 - fx) * fy + q[1, 1] * fx * fy)


def cell_value(z, east, north):
    col, row = math.floor((east - WEST) / DEM_RES), math.floor((NORTH - north) / DEM_RES)
    if not (0 <= col < z.shape[1] and 0 <= row < z.shape[0]) or z[row, col] == NODATA:
        return None
    return float(z[row, col])


# Check points: (name, note, x, y) sheet-relative. Quarter offsets put the point off the cell
# centres, so nearest-cell and bilinear answers differ by about 1 cm.
POINTS = (
    ("KZD D01", "control point D01 of the DXF sheet (its DXF height is this + 0.012 m); on a cell corner", 30.0, 135.0),
    ("KZD D02", "control point D02 of the DXF sheet; on a cell corner", 235.0, 8.0),
    ("KZD D03", "control point D03 of the DXF sheet; on a cell corner", 125.0, 228.0),
    ("sheet centre", "middle of sheet 4622.00-429.25", 125.25, 125.75),
    ("mosaic seam", "next to the corner where the four mosaic tiles meet (E 429 500, N 4 622 250)", 250.25, 249.75),
    ("hill A summit", "top of the north-eastern hill", 600.25, 600.75),
    ("hill B flank", "the north-western hill among the fields", -150.25, 560.75),
    ("wash bed", "bed of the dry wash south of the sheet (2.5 m below the plain)", -100.25, None),
    ("field south-west", "farmland in the south-west corner", -200.25, -40.75),
    ("void", "inside the nodata void: no elevation", -220.25, 725.75),
    ("outside", "east of the DEM: no elevation", 850.25, 125.75),
)
TOLERANCE = 0.002  # m: float32 rounding (6e-5 m at 950 m) + the surface's curvature between cells


def check_points(z):
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(f"EPSG:{EPSG}", f"EPSG:{LONLAT_EPSG}", always_xy=True)
    out = []
    for name, note, x, y in POINTS:
        if y is None:  # the wash bed: on the centre line, snapped to a quarter offset
            y = math.floor(float(wash_centre(x))) + 0.75
        east, north = X0 + x, Y0 + y
        lon, lat = to_lonlat.transform(east, north)
        inside = XMIN <= x < XMAX and YMIN <= y < YMAX
        void = VOID[0] - 1 <= x <= VOID[1] + 1 and VOID[2] - 1 <= y <= VOID[3] + 1
        expected = None if (not inside or void) else float(terrain(x, y))
        got = bilinear(z, east, north)
        if expected is None:
            if got is not None:
                raise AssertionError(f"{name}: expected no elevation, bilinear gives {got}")
        elif got is None or abs(got - expected) > 0.001:
            raise AssertionError(f"{name}: analytic {expected:.4f} m, bilinear {got} m")
        corner = float(x).is_integer() or float(y).is_integer()
        nearest = None if (expected is None or corner) else cell_value(z, east, north)
        out.append({
            "name": name, "note": note, "lon": round(lon, 9), "lat": round(lat, 9),
            "east": east, "north": north,
            "elevation": None if expected is None else round(expected, 4),
            "nearest_cell": None if nearest is None else round(nearest, 4),
        })
    return out


# ---------------------------------------------------------------------------- DXF features

def read_dxf(path: Path) -> dict:
    """Buildings (with floors), road surfaces, water, green space and shrubs of the DXF sheet,
    as shapely geometries in sheet-relative coordinates. Empty if the file is missing."""
    from shapely.geometry import LineString, Point, Polygon
    from shapely.ops import unary_union

    empty = {"buildings": [], "roads": None, "estate": None, "water": [], "canal": None, "green": [],
             "fence": [], "shrubs": [], "centre_lines": []}
    if not path.exists():
        return empty
    import ezdxf
    from ezdxf import path as dxfpath

    def code(e):
        try:
            tags = e.get_xdata("SOUTH")
        except Exception:  # noqa: BLE001 - no XDATA
            return None
        return str(tags[0].value) if tags else None

    def rel(points):
        return [(px - X0, py - Y0) for px, py in points]

    def flat(e):
        return rel((v.x, v.y) for v in dxfpath.make_path(e).flattening(0.05))

    msp = ezdxf.readfile(path).modelspace()
    out = dict(empty)
    labels = []
    for t in msp.query("TEXT[layer=='ZJ']"):
        m = re.fullmatch(r"([砼砖混简])(\d+)", t.dxf.text.strip())
        if m:
            p = t.dxf.align_point if t.dxf.hasattr("align_point") else t.dxf.insert
            labels.append((Point(p[0] - X0, p[1] - Y0), m.group(1), int(m.group(2))))
    kerbs, centre, estate = [], [], []
    for e in msp.query("LWPOLYLINE"):
        c, layer = code(e), e.dxf.layer
        pts = flat(e)
        if layer == "JMD" and e.closed:
            poly = Polygon(pts)
            hit = [(s, f) for p, s, f in labels if poly.contains(p)]
            structure, floors = hit[0] if hit else ("砼", 3)
            out["buildings"].append((poly, structure, floors))
        elif layer == "JMD":
            out["fence"].append(LineString(pts))
        elif layer == "DLSS" and c == "164900":
            centre.append(LineString(pts))
        elif layer == "DLSS" and c == "164200":
            estate.append(LineString(pts))
        elif layer == "DLSS":
            kerbs.append(LineString(pts))
        elif layer == "SXSS" and e.closed:
            out["water"].append(Polygon(pts))
        elif layer == "SXSS":
            out["canal"] = LineString(pts)
        elif layer == "ZBTZ" and e.closed:
            out["green"].append(Polygon(pts))
    for b in msp.query("INSERT[layer=='ZBTZ']"):
        out["shrubs"].append((b.dxf.insert[0] - X0, b.dxf.insert[1] - Y0))

    # Road surfaces: each centre line, extended to the whole area, buffered by its distance to
    # the nearest kerb; then a closing (buffer +r, -r) gives the kerbs' 8 m corner radius.
    parts = []
    for line in centre:
        (ax, ay), (bx, by) = line.coords[0], line.coords[-1]
        half = min(k.distance(line.interpolate(0.5, normalized=True)) for k in kerbs) if kerbs else 6.0
        if abs(ay - by) < 1e-6:  # east-west
            long = LineString([(XMIN - 50, ay), (XMAX + 50, ay)])
        else:
            long = LineString([(ax, YMIN - 50), (ax, YMAX + 50)])
        out["centre_lines"].append((long, half))
        parts.append(long.buffer(half, cap_style="flat"))
    if parts:
        out["roads"] = unary_union(parts).buffer(8.0, join_style="round").buffer(-8.0, join_style="round")
    if len(estate) >= 2:
        out["estate"] = unary_union(estate).convex_hull
    if out["canal"] is not None:  # continue the canal straight beyond the sheet
        cs = list(out["canal"].coords)
        (ax, ay), (bx, by) = cs[0], cs[1]
        (cx, cy), (dx, dy) = cs[-2], cs[-1]
        head = (ax - (bx - ax) * 40, ay - (by - ay) * 40)
        tail = (dx + (dx - cx) * 40, dy + (dy - cy) * 40)
        out["canal"] = LineString([head, *cs, tail])
    return out


# ---------------------------------------------------------------------------- orthophoto

def smooth_noise(rng, shape, cell_px):
    """Noise with about `cell_px` pixels correlation: a coarse grid, interpolated bilinearly."""
    h, w = shape
    gh, gw = h // cell_px + 2, w // cell_px + 2
    g = rng.standard_normal((gh, gw))

    def interp_matrix(n, m):
        pos = (np.arange(n) + 0.5) / cell_px
        i = np.clip(np.floor(pos).astype(int), 0, m - 2)
        f = pos - i
        a = np.zeros((n, m))
        a[np.arange(n), i] = 1 - f
        a[np.arange(n), i + 1] = f
        return a

    return interp_matrix(h, gh) @ g @ interp_matrix(w, gw).T


def sweep(poly, dx, dy):
    """The shadow of a prism: the footprint swept along (dx, dy)."""
    from shapely import affinity
    from shapely.geometry import Polygon
    from shapely.ops import unary_union

    pieces = [poly, affinity.translate(poly, dx, dy)]
    cs = list(poly.exterior.coords)
    for (ax, ay), (bx, by) in zip(cs, cs[1:]):
        q = Polygon([(ax, ay), (bx, by), (bx + dx, by + dy), (ax + dx, ay + dy)])
        if q.area > 1e-9:
            pieces.append(q.buffer(0))
    return unary_union(pieces)


def dom_array(dxf: dict) -> np.ndarray:
    from shapely.geometry import LineString, Point, box
    from shapely.ops import unary_union

    rng = np.random.default_rng(SEED)
    xs, ys = centres(DOM_RES)
    X, Y = xs[None, :], ys[:, None]  # broadcast: full arrays only where needed
    shape = (ys.size, xs.size)
    rel_transform = from_origin(XMIN, YMAX, DOM_RES, DOM_RES)

    def mask(geoms):
        geoms = [g for g in (geoms if isinstance(geoms, (list, tuple)) else [geoms]) if g is not None and not g.is_empty]
        if not geoms:
            return np.zeros(shape, bool)
        return rasterize(((g, 1) for g in geoms), out_shape=shape, transform=rel_transform, fill=0,
                         dtype="uint8", all_touched=False).astype(bool)

    img = np.zeros(shape + (3,), np.float32)

    def paint(m, rgb, alpha=1.0):
        if alpha == 1.0:
            img[m] = rgb
        else:
            img[m] = img[m] * (1 - alpha) + np.asarray(rgb, np.float32) * alpha

    sheet = box(0, 0, SHEET, SHEET)
    urban = (X >= -60) & (Y >= -40)
    farm = ~urban

    # Ground: urban soil and paving; farmland parcels of 50 m x 100 m.
    img[:] = (176, 166, 148)
    pw, ph = 50.0, 100.0
    pcol = np.floor((X - XMIN) / pw).astype(int)
    prow = np.floor((Y - YMIN) / ph).astype(int)
    n_parcels = int(pcol.max() + 1) * int(prow.max() + 1)
    crop = rng.choice(4, size=n_parcels, p=[0.4, 0.25, 0.15, 0.2])  # cotton, tilled, stubble, pear orchard
    parcel = crop[prow * (pcol.max() + 1) + pcol]
    rows = np.broadcast_to(0.5 + 0.5 * np.sin(2 * np.pi * X / 2.0), shape)  # crop rows every 2 m, north-south
    crop_rgb = {
        0: np.array([96, 128, 72], np.float32),
        1: np.array([150, 124, 96], np.float32),
        2: np.array([196, 178, 128], np.float32),
        3: np.array([152, 132, 104], np.float32),
    }
    for k, rgb in crop_rgb.items():
        m = farm & (parcel == k)
        shade = (0.85 + 0.15 * rows[m])[:, None] if k in (0, 1) else 1.0
        img[m] = rgb * shade
    # Orchard trees (pear, 4 m x 5 m spacing) and shelterbelts (poplar rows) on parcel edges.
    orchard = farm & (parcel == 3)
    ox, oy = np.mod(X, 4.0) - 2.0, np.mod(Y, 5.0) - 2.5
    paint(orchard & (ox**2 + oy**2 < 1.6**2), (62, 92, 48))
    belt = farm & ((np.mod(X - XMIN, pw) < 3.0) | (np.mod(Y - YMIN, 2 * ph) < 3.0))
    belt_tex = 0.8 + 0.2 * np.sin(X * 2.1) * np.sin(Y * 1.7)
    img[belt] = np.array([50, 80, 42], np.float32) * belt_tex[belt][:, None]
    del parcel, belt, belt_tex, orchard

    # Dry wash: sand, with a moist darker bed; bare hills.
    depth = wash_depth(X, Y)
    sand = depth > 0.25
    streaks = smooth_noise(rng, shape, 8)  # braided flow marks on the bed
    img[sand] = np.array([206, 192, 160], np.float32) * (1.0 + 0.04 * streaks[sand])[:, None]
    bed = (depth > WASH_DEPTH - 0.05) & (streaks > 0.3)
    paint(bed, (176, 162, 132), 0.7)
    for cx, cy, r, h in HILLS:  # within each hill's box only
        r *= 1.08
        cols = np.flatnonzero(np.abs(xs - cx) < r)
        rws = np.flatnonzero(np.abs(ys - cy) < r)
        if cols.size and rws.size:
            sub = np.s_[rws[0]:rws[-1] + 1, cols[0]:cols[-1] + 1]
            w = (hill(xs[cols][None, :], ys[rws][:, None], cx, cy, r, h) / h).astype(np.float32)[..., None]
            img[sub] = img[sub] * (1 - w) + np.array([184, 162, 124], np.float32) * w

    # Invented residential blocks outside the sheet: east-west slabs 12 m deep, in urban ground.
    roads = dxf["roads"]
    secondary = unary_union([
        LineString([(-60, YMIN - 10), (-60, YMAX + 10)]).buffer(7, cap_style="flat"),
        LineString([(420, YMIN - 10), (420, YMAX + 10)]).buffer(8, cap_style="flat"),
        LineString([(-60, 400), (XMAX + 10, 400)]).buffer(8, cap_style="flat"),
    ])
    keep_out = unary_union([g for g in (roads, secondary.buffer(5), sheet.buffer(3)) if g is not None]
                           + [Point(cx, cy).buffer(r + 12) for cx, cy, r, _ in HILLS]
                           + ([dxf["canal"].buffer(6)] if dxf["canal"] is not None else []))
    if roads is not None:
        keep_out = keep_out.union(roads.buffer(6))
    invented = []
    for y0 in np.arange(-30.0, YMAX - 14, 34.0):
        x = -50.0
        while x < XMAX:
            length = float(rng.choice([24.0, 36.0, 48.0, 60.0]))
            b = box(x, y0, x + length, y0 + 12.0)
            if b.within(box(-60, -40, XMAX, YMAX)) and not b.intersects(keep_out):
                invented.append((b, str(rng.choice(["砼", "砼", "砖", "混"])), int(rng.integers(4, 12))))
            x += length + float(rng.choice([8.0, 12.0, 20.0]))

    # Roads: asphalt (main and urban), dirt (secondary in the fields); markings on the main roads.
    sec = mask(secondary)
    paint(sec & urban, (104, 102, 104))
    paint(sec & farm, (170, 150, 118))
    if roads is not None:
        paint(mask(roads), (88, 88, 92))
    if dxf["estate"] is not None:
        paint(mask(dxf["estate"]), (128, 126, 126))
    marks = []
    for line, half in dxf["centre_lines"]:
        (ax, ay), (_, by) = line.coords[0], line.coords[-1]
        horizontal = abs(ay - by) < 1e-6
        length = line.length
        for s in np.arange(0.0, length, 12.0):
            seg = LineString([line.interpolate(s), line.interpolate(min(s + 6.0, length))])
            if roads is not None and not seg.buffer(0.3).within(roads):
                continue
            if any(other is not line and seg.distance(other) < h + 4 for other, h in dxf["centre_lines"]):
                continue  # no dashes across the junction
            marks.append(seg.buffer(0.25, cap_style="flat"))
        # zebra crossing: stripes across this road, 4-9 m before the junction on both sides
        for other, h in dxf["centre_lines"]:
            if other is line or not line.intersects(other):
                continue
            p = line.intersection(other)
            for sign in (-1, 1):
                c0 = (p.x if horizontal else p.y) + sign * (h + 4.0)
                c1 = c0 + sign * 5.0
                for k in np.arange(-half + 1.0, half - 0.5, 2.0):
                    if horizontal:
                        marks.append(box(min(c0, c1), ay + k, max(c0, c1), ay + k + 1.0))
                    else:
                        marks.append(box(ax + k, min(c0, c1), ax + k + 1.0, max(c0, c1)))
    paint(mask(marks), (226, 224, 214))

    # Green space, shrubs, pond and canal.
    paint(mask(dxf["green"]), (104, 140, 74))
    paint(mask([Point(p).buffer(1.8) for p in dxf["shrubs"]]), (70, 108, 56))
    if dxf["canal"] is not None:
        paint(mask(dxf["canal"].buffer(3.0)), (150, 150, 120))  # banks
        paint(mask(dxf["canal"].buffer(1.6)), (58, 88, 96))
    paint(mask(dxf["water"]), (58, 88, 96))

    # Buildings: shadows to the north-north-west (sun from azimuth 160 deg, 62 deg high), then roofs.
    sun_az, sun_el = math.radians(160.0), math.radians(62.0)
    vx, vy = -math.sin(sun_az), -math.cos(sun_az)
    everything = [(p, s, f) for p, s, f in dxf["buildings"]] + invented
    shadows = [sweep(p, vx * 3.0 * f / math.tan(sun_el), vy * 3.0 * f / math.tan(sun_el)) for p, s, f in everything]
    sh = mask(shadows)
    img[sh] *= 0.55
    roof_rgb = {"砼": (196, 196, 192), "砖": (160, 92, 72), "混": (92, 128, 170), "简": (118, 150, 182)}
    for structure, rgb in roof_rgb.items():
        polys = [p for p, s, _ in everything if s == structure]
        m = mask(polys)
        paint(m, rgb)
        # a darker rim (parapet) one pixel wide
        rim = m & ~mask([p.buffer(-0.6) for p in polys])
        img[rim] *= 0.8
    paint(mask([f.buffer(0.3) for f in dxf["fence"]]), (120, 110, 100))

    # Street trees along both main roads, 7 m apart, 3 m outside the kerb, where there is room.
    trees = []
    if roads is not None:
        blocked = unary_union([roads, secondary] + [p for p, _, _ in everything]
                              + dxf["water"] + ([dxf["canal"].buffer(3)] if dxf["canal"] is not None else []))
        for line, half in dxf["centre_lines"]:
            horizontal = abs(line.coords[0][1] - line.coords[-1][1]) < 1e-6
            for s in np.arange(3.5, line.length, 7.0):
                q = line.interpolate(s)
                for side in (-1, 1):
                    off = side * (half + 3.0)
                    t = Point(q.x, q.y + off) if horizontal else Point(q.x + off, q.y)
                    if not t.buffer(1.5).intersects(blocked):
                        trees.append(t)
    paint(mask([t.buffer(2.6) for t in trees]), (48, 84, 44))
    paint(mask([Point(t.x - 0.6, t.y + 0.6).buffer(1.2) for t in trees]), (72, 112, 60))  # sunlit crown

    # Relief shading from the DEM (x4 exaggeration), slow brightness variation and sensor noise.
    # (computed on the 1 m grid and repeated: the terrain is smooth)
    dx, dy = centres(DEM_RES)
    z = terrain(dx[None, :], dy[:, None]) * 4.0
    gy, gx = np.gradient(z, DEM_RES)  # rows run north -> south
    dzdx, dzdy = gx, -gy
    slope = np.arctan(np.hypot(dzdx, dzdy))
    aspect = np.arctan2(-dzdx, -dzdy)  # direction of steepest descent, clockwise from north
    shade = np.sin(sun_el) * np.cos(slope) + np.cos(sun_el) * np.sin(slope) * np.cos(sun_az - aspect)
    shade = np.clip(shade / np.sin(sun_el), 0.5, 1.3).astype(np.float32)
    k = round(DEM_RES / DOM_RES)
    img *= np.repeat(np.repeat(shade, k, axis=0), k, axis=1)[..., None]
    img *= (1.0 + 0.05 * smooth_noise(rng, shape, 32)).astype(np.float32)[..., None]
    img += rng.standard_normal(shape, np.float32)[..., None] * 2.5  # luminance noise
    img += rng.standard_normal(shape + (3,), np.float32)  # colour noise
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------- writing

def _crs():
    return rasterio.crs.CRS.from_epsg(EPSG)


def _esri_wkt() -> str:
    from pyproj import CRS

    return CRS.from_epsg(EPSG).to_wkt("WKT1_ESRI")  # as ArcGIS writes it (cf. make_gbk_shapefile.py)


def write_dem(path: Path, z: np.ndarray, west: float, north: float) -> None:
    profile = {
        "driver": "GTiff", "width": z.shape[1], "height": z.shape[0], "count": 1, "dtype": "float32",
        "crs": _crs(), "transform": from_origin(west, north, DEM_RES, DEM_RES), "nodata": NODATA,
        "compress": "deflate", "predictor": 3, "tiled": True, "blockxsize": 256, "blockysize": 256,
    }
    if z.shape[0] < 256 or z.shape[1] < 256:
        profile.update(tiled=False, blockxsize=None, blockysize=None)
        profile = {k: v for k, v in profile.items() if v is not None}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(z, 1)
        ds.set_band_description(1, "elevation (m)")
        ds.update_tags(1, UNITS="metre")
        ds.update_tags(SOURCE="SYNTHETIC: sample_data/make_raster.py, not survey data",
                       VERTICAL="heights in metres (1985 national height datum in spirit; invented)")


def write_asc(path: Path, z: np.ndarray, west: float, south: float) -> None:
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(f"ncols {z.shape[1]}\nnrows {z.shape[0]}\nxllcorner {west:.3f}\nyllcorner {south:.3f}\n"
                f"cellsize {DEM_RES:g}\nNODATA_value {NODATA:g}\n")
        np.savetxt(f, np.where(z == NODATA, NODATA, z).astype(np.float64), fmt="%.3f", delimiter=" ")
    path.with_suffix(".prj").write_text(_esri_wkt(), encoding="ascii")


def write_dom(path: Path, rgb: np.ndarray) -> None:
    profile = {
        "driver": "GTiff", "width": rgb.shape[1], "height": rgb.shape[0], "count": 3, "dtype": "uint8",
        "crs": _crs(), "transform": from_origin(WEST, NORTH, DOM_RES, DOM_RES), "photometric": "RGB",
        "compress": "deflate", "predictor": 2, "interleave": "pixel",
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.moveaxis(rgb, 2, 0))
        ds.update_tags(SOURCE="SYNTHETIC orthophoto: sample_data/make_raster.py, not imagery")


def write_dom_worldfile(path: Path, rgb: np.ndarray) -> None:
    """A plain TIFF (baseline profile: no GeoTIFF keys) with a .tfw world file and an ESRI .prj."""
    profile = {"driver": "GTiff", "width": rgb.shape[1], "height": rgb.shape[0], "count": 3, "dtype": "uint8",
               "photometric": "RGB", "profile": "BASELINE", "interleave": "pixel"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.Env(GDAL_PAM_ENABLED="NO"):
            with rasterio.open(path, "w", **profile) as ds:
                ds.write(np.moveaxis(rgb, 2, 0))
    # World file: x size, rotation, rotation, -y size, then the CENTRE of the upper-left pixel.
    lines = [DOM_RES, 0.0, 0.0, -DOM_RES, WEST + DOM_RES / 2, NORTH - DOM_RES / 2]
    path.with_suffix(".tfw").write_text("".join(f"{v:.10f}\n" for v in lines), encoding="ascii")
    path.with_suffix(".prj").write_text(_esri_wkt(), encoding="ascii")


def _stamp() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    if DXF.exists():
        h.update(DXF.read_bytes())
    return h.hexdigest()


def outputs(outdir: Path) -> dict:
    """The paths generate() writes (whether or not they exist yet)."""
    outdir = Path(outdir)
    tiles = outdir / "dem_korla_1m_tiles"
    return {
        "dem": outdir / "dem_korla_1m.tif",
        "dem_points": outdir / "dem_korla_1m.points.json",
        "dem_mosaic_dir": tiles,
        "dem_mosaic": [tiles / f"dem_korla_1m_r{r}c{c}.tif" for r in (0, 1) for c in (0, 1)],
        "dem_asc": outdir / "dem_korla_4622.00-429.25.asc",
        "dem_asc_prj": outdir / "dem_korla_4622.00-429.25.prj",
        "dom": outdir / "dom_korla_0p5m.tif",
        "dom_worldfile": outdir / "dom_korla_0p5m_worldfile.tif",
        "dom_tfw": outdir / "dom_korla_0p5m_worldfile.tfw",
        "dom_prj": outdir / "dom_korla_0p5m_worldfile.prj",
    }


def generate(outdir, *, force: bool = False) -> dict:
    """Write the raster samples into `outdir` (created if needed) and return their paths.
    Skips the work when a previous run of the same script (and DXF) left all files in place."""
    outdir = Path(outdir)
    paths = outputs(outdir)
    stamp = outdir / "make_raster.stamp"
    flat = [p for v in paths.values() for p in (v if isinstance(v, list) else [v])]
    if not force and stamp.exists() and stamp.read_text().strip() == _stamp() and all(p.exists() for p in flat):
        return paths
    outdir.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    for p in flat:  # statistics that GDAL cached beside an older version of a file
        p.with_name(p.name + ".aux.xml").unlink(missing_ok=True)
    paths["dem_mosaic_dir"].mkdir(exist_ok=True)

    z = dem_array()
    write_dem(paths["dem"], z, WEST, NORTH)
    half_r, half_c = z.shape[0] // 2, z.shape[1] // 2
    for tile in paths["dem_mosaic"]:
        r, c = int(tile.stem[-3]), int(tile.stem[-1])
        win = Window(c * half_c, r * half_r, half_c, half_r)
        write_dem(tile, z[r * half_r:(r + 1) * half_r, c * half_c:(c + 1) * half_c],
                  WEST + win.col_off * DEM_RES, NORTH - win.row_off * DEM_RES)
    r0, c0 = int(YMAX - SHEET), int(0 - XMIN)  # the sheet's rows and columns
    write_asc(paths["dem_asc"], z[r0:r0 + int(SHEET), c0:c0 + int(SHEET)], X0, Y0)
    points = {
        "description": "Check points for the elevation query on the SYNTHETIC DEM dem_korla_1m.tif "
                       "(made by sample_data/make_raster.py). `elevation` is the analytic surface at the "
                       "point, which bilinear interpolation between cell centres reproduces within "
                       "`tolerance_m`; `nearest_cell` is the value of the cell containing the point (null "
                       "on cell corners), about 1 cm off, so a test can tell the two methods apart. "
                       "null elevation: nodata or outside the DEM.",
        "lonlat_crs": f"EPSG:{LONLAT_EPSG}", "grid_crs": f"EPSG:{EPSG}", "interpolation": "bilinear",
        "tolerance_m": TOLERANCE, "asc_tolerance_m": 0.0025,
        "points": check_points(z),
    }
    paths["dem_points"].write_text(json.dumps(points, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    rgb = dom_array(read_dxf(DXF))
    write_dom(paths["dom"], rgb)
    write_dom_worldfile(paths["dom_worldfile"], rgb)
    stamp.write_text(_stamp() + "\n")
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--force", action="store_true", help="regenerate even if the files are up to date")
    args = parser.parse_args()
    import time

    start = time.perf_counter()
    paths = generate(args.outdir, force=args.force)
    seconds = time.perf_counter() - start
    for key, value in paths.items():
        for p in value if isinstance(value, list) else [value]:
            size = f"{p.stat().st_size / 2**20:7.2f} MB" if p.is_file() else "    (dir)"
            print(f"{key:<15} {size}  {p}")
    print(f"done in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
