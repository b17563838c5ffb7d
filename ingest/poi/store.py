"""The current POIs: one plain PostGIS layer table in the catalog, like every other layer, so the
OGC API, vector tiles, MapProxy and the tourism map read it without knowing about change sets.

Only `apply.write_states` changes it (with the matching PoiVersion rows, in one transaction).
"""

from django.conf import settings
from django.db import transaction
from psycopg import sql

from layers import storage
from layers.models import Access, Department, Layer

from . import categories

# Attribute columns of the POI table, in order. `name_key` is the normalised name duplicate checks
# compare; `version`/`changeset` tie each row to its PoiVersion.
COLUMNS = [
    storage.Column("poi_id", "text"),
    storage.Column("name", "text"),
    storage.Column("name_en", "text"),
    storage.Column("name_ug", "text"),
    storage.Column("name_mn", "text"),
    storage.Column("category", "text"),
    storage.Column("category_group", "text"),
    storage.Column("rating", "text"),
    storage.Column("address", "text"),
    storage.Column("adcode", "text"),
    storage.Column("county", "text"),
    storage.Column("phone", "text"),
    storage.Column("opening_hours", "text"),
    storage.Column("description", "text"),
    storage.Column("photos", "text"),
    storage.Column("source", "text"),
    storage.Column("origin_crs", "text"),
    storage.Column("collected_at", "date"),
    storage.Column("verified_at", "date"),
    storage.Column("status", "text"),
    storage.Column("name_key", "text"),
    storage.Column("version", "bigint"),
    storage.Column("changeset", "bigint"),
    storage.Column("updated_at", "timestamptz"),
]
COLUMN_NAMES = [c.name for c in COLUMNS]
# What a version records and a change may set (the rest is derived).
ATTRIBUTES = [n for n in COLUMN_NAMES if n not in ("poi_id", "name_key", "version", "changeset", "updated_at")]
DERIVED = {"category_group", "adcode", "county", "origin_crs"}


def config() -> dict:
    return settings.GEOPLATFORM["POI"]


def layer_slug() -> str:
    return config()["LAYER"]


def table() -> str:
    return storage.table_for_slug(layer_slug())


def qualified() -> sql.Composed:
    return storage.qualified(table())


def get_layer() -> Layer | None:
    return Layer.objects.filter(slug=layer_slug()).first()


def ensure_layer() -> Layer:
    """The POI layer, created empty (catalog row and table) the first time it is needed."""
    layer = get_layer()
    if layer is not None:
        return layer
    cfg = config()
    with transaction.atomic():
        name = table()
        storage.create_table(name, "MultiPoint", COLUMNS)
        cur = storage._raw_cursor()
        cur.execute(sql.SQL("CREATE UNIQUE INDEX {} ON {} (poi_id)").format(sql.Identifier(f"{name}_poi_id"), qualified()))
        cur.execute(sql.SQL("CREATE INDEX {} ON {} (name_key)").format(sql.Identifier(f"{name}_name_key"), qualified()))
        storage.create_spatial_index(name)
        # Duplicate checks look for similar names near a point in one index scan (changesets._checks).
        cur.execute(sql.SQL("CREATE INDEX {} ON {} USING gist (geom, name_key gist_trgm_ops)").format(
            sql.Identifier(f"{name}_geom_name"), qualified()))
        owner = Department.objects.filter(code=cfg["DEPARTMENT"]).first()
        return Layer.objects.create(
            slug=layer_slug(), title_zh=cfg["TITLE_ZH"], title_en=cfg["TITLE_EN"], kind=Layer.Kind.VECTOR,
            geometry_type=Layer.GeometryType.POINT, table_name=name, native_srid=4490,
            access=cfg.get("ACCESS", Access.PUBLIC), owner=owner,
            abstract="Points of interest maintained through reviewed change sets (geoplatform poi).",
            keywords=["兴趣点", "POI"],
        )


def current(poi_ids: list[str], *, lock: bool = False) -> dict[str, dict]:
    """Current rows by id: every attribute column plus lon/lat."""
    if not poi_ids:
        return {}
    query = sql.SQL(
        "SELECT {cols}, ST_X(ST_GeometryN(geom, 1)), ST_Y(ST_GeometryN(geom, 1)) FROM {t} WHERE poi_id = ANY(%s) {lock}"
    ).format(cols=sql.SQL(", ").join(map(sql.Identifier, COLUMN_NAMES)), t=qualified(),
             lock=sql.SQL("FOR UPDATE") if lock else sql.SQL(""))
    cur = storage._raw_cursor()
    cur.execute(query, [list(poi_ids)])
    out = {}
    for row in cur.fetchall():
        rec = dict(zip(COLUMN_NAMES, row[:-2]))
        rec["lon"], rec["lat"] = row[-2], row[-1]
        out[rec["poi_id"]] = rec
    return out


def category_group(code: str | None) -> str | None:
    cat = categories.find(code) if code else None
    return cat.group if cat else None
