"""geoplatform: open GIS spatial-data platform (Digital Bazhou / Digital Wuhai)."""

__version__ = "0.1.0"
