"""Raster tiles: MapProxy (WMS, WMTS, TMS) rendering the catalog's PostGIS layers through MapServer.

- `catalog`: the layers to serve, read from the catalog (`layers.Layer`) and the tables' columns;
- `mapfile`, `fonts`: the MapServer mapfile, config file and FONTSET from `tiles/styles/`;
- `config`: the MapProxy configuration, and `regenerate()` writing everything under
  `DATA_DIR/tiles/` (validated, atomically);
- `invalidate`: removing cached tiles of a layer whose data changed;
- `auth`, `app`: the WSGI application (`make_app()`) with the platform's access rules;
- `signals`: `connect()` regenerates on catalog changes.

See docs/tiles.md.
"""
