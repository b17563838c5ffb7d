"""Cloud-Optimised GeoTIFFs through GDAL's COG driver (the reference implementation, via the
rasterio that ships with GDAL), with a profile per product, and validation by rio-cogeo."""

from pathlib import Path

import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from rio_cogeo.cogeo import cog_validate

from layers.errors import InvalidInput

KINDS = ("dom", "dem", "drg")


def profile(kind: str, dtype: str, count: int) -> dict:
    """COG creation options. DOM: JPEG (YCbCr for RGB) — orthophotos tolerate lossy compression
    and shrink tenfold; DEM: DEFLATE with the floating-point or integer predictor (lossless: the
    elevation query reads these values); DRG (scanned maps, sharp lines): DEFLATE."""
    opts = {"BLOCKSIZE": 512, "OVERVIEWS": "AUTO", "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER"}
    if kind == "dom" and dtype == "uint8" and count in (1, 3, 4):
        opts |= {"COMPRESS": "JPEG", "QUALITY": 85, "OVERVIEW_RESAMPLING": "AVERAGE"}
        if count == 4:
            opts["COMPRESS"] = "WEBP"  # JPEG cannot carry the alpha band
    elif kind == "dem":
        floating = dtype.startswith("float")
        opts |= {"COMPRESS": "DEFLATE", "PREDICTOR": 3 if floating else 2, "LEVEL": 6,
                 "RESAMPLING": "BILINEAR", "OVERVIEW_RESAMPLING": "BILINEAR"}
    else:
        opts |= {"COMPRESS": "DEFLATE", "PREDICTOR": 2 if not dtype.startswith("float") else 3,
                 "OVERVIEW_RESAMPLING": "AVERAGE" if kind == "dom" else "NEAREST"}
    return opts


def write_cog(source, dst: Path, kind: str, *, nodata: float | None = None, crs=None) -> Path:
    """Write `source` (a path or an open dataset, e.g. a VRT) as a COG at `dst`."""
    with rasterio.open(source) if not hasattr(source, "profile") else _same(source) as src:
        opts = profile(kind, src.dtypes[0], src.count)
        if nodata is not None:
            opts["NODATA"] = nodata
        if crs is not None:
            opts["TARGET_SRS"] = crs.to_wkt() if hasattr(crs, "to_wkt") else str(crs)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
                rasterio.shutil.copy(src, dst, driver="COG", **opts)
        except (RasterioError, CPLE_BaseError) as e:
            dst.unlink(missing_ok=True)
            raise InvalidInput(f"{Path(str(src.name)).name}: cannot be read completely ({e})") from None
    return dst


class _same:
    def __init__(self, ds):
        self.ds = ds

    def __enter__(self):
        return self.ds

    def __exit__(self, *exc):
        return False


def validate(path: Path) -> None:
    valid, errors, warnings = cog_validate(str(path), quiet=True)
    if not valid:
        raise InvalidInput(f"{path.name}: not a valid COG: {'; '.join(errors)}")
