import json
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from pyproj import Transformer

from ingest import pipeline

KORLA = (86.15, 41.735)
GK87 = Transformer.from_crs(4490, 4538, always_xy=True)  # CGCS2000 GK CM 87E, short easting


def load(path, **options):
    """Run one load the way the CLI does; returns the report."""
    options.setdefault("department", "zrzy")
    opts = pipeline.Options(**options)
    job = pipeline.create_job(Path(path), opts)
    return pipeline.run(job, Path(path))


def write_geojson(path: Path, features, crs84=True) -> Path:
    fc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    return path


def feature(geometry, **props):
    return {"type": "Feature", "geometry": geometry, "properties": props}


def point(lon=KORLA[0], lat=KORLA[1]):
    return {"type": "Point", "coordinates": [lon, lat]}


def square(lon=KORLA[0], lat=KORLA[1], d=0.001):
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]}


def write_points(path: Path, lonlat: np.ndarray, fields: dict, *, crs="EPSG:4490", driver="GPKG", layer=None, **kw):
    """A small real file; crs=None writes one without any CRS, as careless exports do."""
    geoms = shapely.points(lonlat)
    if crs is None:
        import warnings

        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
    pyogrio.raw.write(path, shapely.to_wkb(geoms), driver=driver, layer=layer, geometry_type="Point", crs=crs,
                      field_data=list(fields.values()), fields=list(fields), **kw)
    return path


@pytest.fixture
def korla_points():
    rng = np.random.default_rng(7)
    return np.column_stack([rng.uniform(86.10, 86.20, 50), rng.uniform(41.70, 41.76, 50)])
