"""Tile grids and the CRSs the WMS answers in.

`cgcs2000_c` is Tianditu's `c` matrix set: EPSG:4490, top-left corner (-180, 90), 256 px tiles,
0.703125°/px at level 1, halving per level. MapProxy numbers levels from 0, so the grid starts
one level higher (1.40625°/px, a single tile) to make MapProxy's level numbers, used as the WMTS
TileMatrix identifiers and the TMS/REST `z`, equal Tianditu's: TileMatrix `1` is 2 × 1 tiles,
`18` is 262144 × 131072 tiles, exactly as a Tianditu client expects.
"""

CGCS2000_C = "cgcs2000_c"
WEBMERCATOR = "GLOBAL_WEBMERCATOR"  # MapProxy's built-in grid (Tianditu's `w` set, levels 0-19)
GRIDS = [CGCS2000_C, WEBMERCATOR]

LEVELS = 20  # 0-19, like GLOBAL_WEBMERCATOR; level 19 ≈ 0.3 m/px at the equator

GRID_CONF = {
    CGCS2000_C: {
        "srs": "EPSG:4490",
        "bbox": [-180, -90, 180, 90],
        "bbox_srs": "EPSG:4490",
        "origin": "nw",
        "tile_size": [256, 256],
        "res": [1.40625 / 2**level for level in range(LEVELS)],
    },
}

# CGCS2000 3° Gauss-Krüger zones of the region, both easting forms:
# Bayingolin CM 81-93°E (zones 27-31) and Wuhai CM 108°E (zone 36).
GK_ZONE_PREFIXED = [4515, 4516, 4517, 4518, 4519, 4524]
GK_CM = [4536, 4537, 4538, 4539, 4540, 4545]

WMS_SRS = [f"EPSG:{code}" for code in [4490, 4326, 3857, *GK_ZONE_PREFIXED, *GK_CM]] + ["CRS:84"]
# Extents in the WMS capabilities are given in these (all layer extents are stored in 4490).
BBOX_SRS = ["EPSG:4490", "EPSG:4326", "EPSG:3857"]
