"""Versioned layer data: every load swaps staged rows in, in one transaction, and keeps the
rows it replaced in `<table>__history`, so any load can be undone.

Rows carry `_job` (the load that wrote them) and `_sheet`; history rows add `_retired_by`
(the load that replaced them) and `_retired_at`. The ingest pipeline owns the job records;
this module only knows job ids.
"""

from collections.abc import Sequence

from psycopg import sql

from . import storage
from .errors import Conflict, InvalidInput
from .storage import Column, _raw_cursor, qualified


def history_table(table: str) -> str:
    return f"{table[:54]}__history"


def staging_table(table: str, job_id: int) -> str:
    return f"{table[:40]}__stage_{job_id}"


def create_history_table(table: str) -> None:
    cur = _raw_cursor()
    history = history_table(table)
    cur.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(qualified(history), qualified(table)))
    cur.execute(
        sql.SQL("ALTER TABLE {} ADD COLUMN _retired_by bigint NOT NULL, ADD COLUMN _retired_at timestamptz NOT NULL DEFAULT now()").format(
            qualified(history)
        )
    )
    cur.execute(sql.SQL("CREATE INDEX ON {} (_retired_by)").format(qualified(history)))


def create_staging_table(table: str, job_id: int, geometry_type: str, columns: Sequence[Column], srid: int) -> str:
    stage = staging_table(table, job_id)
    storage.drop_table(stage)
    storage.create_table(stage, geometry_type, columns, srid)
    return stage


def _column_list(columns: Sequence[Column], *, with_fid: bool) -> sql.Composed:
    names = (["fid"] if with_fid else []) + [c.name for c in columns] + ["_sheet", "_job", "geom"]
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def promote_staging(stage: str, table: str) -> None:
    """A new layer: the staged table becomes the layer table (no copy), with its history table."""
    cur = _raw_cursor()
    cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(qualified(stage), sql.Identifier(table)))
    # Staged rows carry explicit fids (source feature numbers): new rows must number after them.
    cur.execute(
        sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'fid'), greatest(coalesce(max(fid), 0), 1), max(fid) IS NOT NULL) FROM {}").format(
            qualified(table)
        ),
        [_regclass_text(table)],
    )
    cur.execute(sql.SQL("ALTER INDEX IF EXISTS {} RENAME TO {}").format(
        sql.Identifier(storage.schema(), f"{stage[:50]}_geom_gist"), sql.Identifier(f"{table[:50]}_geom_gist")))
    create_history_table(table)


def retire(table: str, job_id: int, *, sheet: str | None = None, sheet_extent_wkb: bytes | None = None,
           everything: bool = False) -> tuple[int, tuple | None]:
    """Move the rows a load replaces into history. Returns (count, bbox of the retired rows)."""
    if everything:
        where = sql.SQL("true")
        params: dict = {}
    elif sheet:
        # The sheet's own rows, plus untagged rows (loaded before sheets were tracked) inside its frame.
        where = sql.SQL("_sheet = %(sheet)s")
        params = {"sheet": sheet}
        if sheet_extent_wkb is not None:
            where = sql.SQL("(_sheet = %(sheet)s OR (_sheet IS NULL AND ST_CoveredBy(geom, ST_GeomFromEWKB(%(frame)s))))")
            params["frame"] = sheet_extent_wkb
    else:
        raise InvalidInput("retire needs a sheet or everything=True")
    cols = storage.columns_of(table)
    cur = _raw_cursor()
    cur.execute(
        sql.SQL(
            """WITH gone AS (DELETE FROM {main} WHERE {where} RETURNING *)
               INSERT INTO {history} ({cols}, _retired_by) SELECT {cols}, %(job)s FROM gone"""
        ).format(main=qualified(table), history=qualified(history_table(table)), where=where,
                 cols=_column_list(cols, with_fid=True)),
        params | {"job": job_id},
    )
    count = cur.rowcount
    return count, _bbox(history_table(table), sql.SQL("_retired_by = %(job)s"), {"job": job_id}) if count else None


def insert_staged(stage: str, table: str, columns: Sequence[Column]) -> int:
    cur = _raw_cursor()
    cur.execute(
        sql.SQL("INSERT INTO {main} ({cols}) SELECT {cols} FROM {stage}").format(
            main=qualified(table), stage=qualified(stage), cols=_column_list(columns, with_fid=False)
        )
    )
    return cur.rowcount


def undo(table: str, job_id: int) -> tuple[int, int, tuple | None]:
    """Remove the rows a load wrote and bring back the rows it retired.
    Returns (removed, restored, bbox of everything touched)."""
    cols = storage.columns_of(table)
    before = _bbox(table, sql.SQL("_job = %(job)s"), {"job": job_id})
    restored_box = _bbox(history_table(table), sql.SQL("_retired_by = %(job)s"), {"job": job_id})
    cur = _raw_cursor()
    cur.execute(sql.SQL("DELETE FROM {} WHERE _job = %(job)s").format(qualified(table)), {"job": job_id})
    removed = cur.rowcount
    cur.execute(
        sql.SQL(
            """WITH back AS (DELETE FROM {history} WHERE _retired_by = %(job)s RETURNING *)
               INSERT INTO {main} ({cols}) SELECT {cols} FROM back"""
        ).format(main=qualified(table), history=qualified(history_table(table)), cols=_column_list(cols, with_fid=True)),
        {"job": job_id},
    )
    restored = cur.rowcount
    return removed, restored, _union(before, restored_box)


def _regclass_text(table: str) -> str:
    # pg_get_serial_sequence parses a (quoted) name: quote it the way PostgreSQL does.
    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    return f"{q(storage.schema())}.{q(table)}"


def union_of(table: str) -> bytes | None:
    """EWKB of the union of a table's geometries (a sheet frame from its TK features)."""
    cur = _raw_cursor()
    cur.execute(sql.SQL("SELECT ST_AsEWKB(ST_Union(geom)) FROM {}").format(qualified(table)))
    row = cur.fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


def bbox_of_job(table: str, job_id: int) -> tuple | None:
    return _bbox(table, sql.SQL("_job = %(job)s"), {"job": job_id})


def confirm_duplicates(stage: str, columns: Sequence[Column], pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Of (duplicate fid, first fid) candidate pairs, those whose rows are exactly equal."""
    if not pairs:
        return []
    same_attrs = sql.SQL(" AND ").join(
        [sql.SQL("a.{c} IS NOT DISTINCT FROM b.{c}").format(c=sql.Identifier(c.name)) for c in columns] or [sql.SQL("true")]
    )
    cur = _raw_cursor()
    cur.execute(
        sql.SQL(
            """SELECT p.dup, p.first FROM unnest(%(dups)s::bigint[], %(firsts)s::bigint[]) AS p(dup, first)
               JOIN {s} a ON a.fid = p.dup JOIN {s} b ON b.fid = p.first
               WHERE ST_AsEWKB(a.geom) = ST_AsEWKB(b.geom) AND {same}"""
        ).format(s=qualified(stage), same=same_attrs),
        {"dups": [d for d, _f in pairs], "firsts": [f for _d, f in pairs]},
    )
    return [(int(d), int(f)) for d, f in cur.fetchall()]


def delete_staged(stage: str, fids: list[int]) -> list[tuple[int, bytes, dict]]:
    """Remove rows from a staging table; returns (fid, EWKB, properties) of each for the report."""
    cur = _raw_cursor()
    cur.execute(
        sql.SQL(
            "DELETE FROM {} t WHERE fid = ANY(%s) RETURNING fid, ST_AsEWKB(geom), to_jsonb(t) - 'geom' - 'fid' - '_job' - '_sheet'"
        ).format(qualified(stage)),
        [fids],
    )
    return [(int(f), bytes(g), props) for f, g, props in cur.fetchall()]


def count_by_sheet(table: str) -> list[tuple[str | None, int | None, int]]:
    """(sheet, newest job among its rows, row count) per sheet."""
    cur = _raw_cursor()
    cur.execute(sql.SQL("SELECT _sheet, max(_job), count(*) FROM {} GROUP BY _sheet ORDER BY _sheet NULLS FIRST").format(
        qualified(table)))
    return cur.fetchall()


def later_jobs(table: str, job_id: int) -> list[int]:
    """Loads after `job_id` that still own rows or retired rows of this table: undoing
    `job_id` under them would tangle versions."""
    cur = _raw_cursor()
    cur.execute(
        sql.SQL(
            """SELECT DISTINCT j FROM (SELECT _job AS j FROM {main} WHERE _job > %(job)s
                                      UNION SELECT _retired_by FROM {history} WHERE _retired_by > %(job)s) s ORDER BY j"""
        ).format(main=qualified(table), history=qualified(history_table(table))),
        {"job": job_id},
    )
    return [r[0] for r in cur.fetchall()]


def lock(table: str) -> None:
    """Serialise loads into one layer; readers are not blocked (SHARE ROW EXCLUSIVE)."""
    _raw_cursor().execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(qualified(table)))


def ensure_no_later_jobs(table: str, job_id: int) -> None:
    if later := later_jobs(table, job_id):
        raise Conflict(f"later loads {', '.join(map(str, later))} changed the same layer; roll those back first")


def _bbox(table: str, where: sql.Composable, params: dict) -> tuple | None:
    cur = _raw_cursor()
    cur.execute(
        sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM {} WHERE {}) s").format(
            qualified(table), where
        ),
        params,
    )
    row = cur.fetchone()
    return tuple(row) if row and row[0] is not None else None


def _union(a: tuple | None, b: tuple | None) -> tuple | None:
    if a is None or b is None:
        return a or b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def bbox_union(*boxes: tuple | None) -> tuple | None:
    out = None
    for box in boxes:
        out = _union(out, box)
    return out
