"""The load report: what was read, what CRS and encoding were chosen and why, what was
repaired, every rejected feature with its reason, and what changed. Written as JSON plus a
GeoPackage of the rejected features for the surveyor to fix in QGIS."""

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely

from .readers.base import SourceLayer
from .validate import Reject

MAX_LISTED = 10_000  # rejects listed one by one in the JSON; all are counted


def _reason_kind(reason: str) -> str:
    for prefix in ("missing geometry", "empty geometry", "invalid geometry", "wrong geometry type",
                   "outside the region", "duplicate of", "attribute"):
        if reason.startswith(prefix):
            return prefix.replace(" of", "")
    return "other"


@dataclass
class Report:
    job_id: int
    file: str
    mode: str
    dry_run: bool = False
    sources: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    reject_counts: Counter = field(default_factory=Counter)
    repaired: dict[str, list[int]] = field(default_factory=dict)
    results: list[dict] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    loaded: int = 0
    extent: tuple | None = None
    error: str = ""
    sheet_frame: str = ""
    _reject_geoms: list = field(default_factory=list, repr=False)

    def add_source(self, slug: str, source: SourceLayer, crs_note: str) -> None:
        self.sources.append({
            "layer": slug, "source": source.name, "path": source.path.name, "features": source.count,
            "geometry_type": source.geometry_type, "crs": crs_note,
            "encoding": source.encoding, "encoding_note": source.encoding_note,
            "fields": [{"name": c.name, "type": c.type} for c in source.fields], **source.extra,
        })

    def add_rejects(self, slug: str, source: SourceLayer, rejects: list[Reject]) -> None:
        for r in rejects:
            self._add(slug, source, r.feature, r.reason, r.geometry, r.properties)

    def add_duplicate_rejects(self, slug: str, source: SourceLayer, items) -> None:
        for fid, first, ewkb, props in items:
            self._add(slug, source, fid, f"duplicate of feature {first}", shapely.from_wkb(ewkb), props)

    def _add(self, slug, source, feature, reason, geometry, properties) -> None:
        self.reject_counts[_reason_kind(reason)] += 1
        if len(self.rejects) < MAX_LISTED:
            self.rejects.append({"layer": slug, "file": source.path.name, "source": source.name,
                                 "feature": int(feature), "reason": reason, "properties": properties})
            self._reject_geoms.append(geometry)

    def add_repaired(self, slug: str, features: list[int]) -> None:
        if features:
            self.repaired.setdefault(slug, []).extend(features[: MAX_LISTED])

    def add_result(self, slug: str, *, loaded: int, retired: int, changed, z_dropped: int = 0) -> None:
        self.results.append({"layer": slug, "loaded": loaded, "replaced": retired, "z_dropped": z_dropped,
                             "changed_extent": list(changed) if changed else None})

    def rejection_message(self, max_invalid: int) -> str:
        total = sum(self.reject_counts.values())
        lines = [f"{self.file}: {total} feature(s) rejected, more than the {max_invalid} allowed "
                 f"(--max-invalid); nothing was loaded"]
        for r in self.rejects[:10]:
            lines.append(f"  {r['file']} [{r['source']}] feature {r['feature']}: {r['reason']}")
        if total > 10:
            lines.append(f"  … {total - 10} more in the report")
        return "\n".join(lines)

    def finish(self, *, loaded: int, extent=None) -> None:
        self.loaded, self.extent = loaded, extent

    def as_dict(self) -> dict:
        return {
            "job": self.job_id, "file": self.file, "mode": self.mode, "dry_run": self.dry_run,
            "sources": self.sources, "loaded": self.loaded, "created": self.created, "results": self.results,
            "extent": list(self.extent) if self.extent else None,
            "repaired": self.repaired, "rejected": sum(self.reject_counts.values()),
            "rejected_by_reason": dict(self.reject_counts), "rejects": self.rejects, "error": self.error,
            "sheet_frame": self.sheet_frame,
        }

    def write(self, path: Path) -> list[Path]:
        """The JSON report at `path`, and the rejects as `<path stem>.rejects.gpkg` beside it."""
        path.write_text(json.dumps(self.as_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        written = [path]
        if self.rejects:
            gpkg = path.with_name(path.stem + ".rejects.gpkg")
            gpkg.unlink(missing_ok=True)
            geoms = np.array(self._reject_geoms, dtype=object)
            pyogrio.raw.write(
                gpkg, shapely.to_wkb(geoms), driver="GPKG", layer="rejects", geometry_type="Unknown", crs="EPSG:4490",
                field_data=[np.array([r[k] for r in self.rejects], dtype=object) for k in ("layer", "source")]
                + [np.array([r["feature"] for r in self.rejects], dtype=np.int64)]
                + [np.array([r["reason"] for r in self.rejects], dtype=object),
                   np.array([json.dumps(r["properties"], ensure_ascii=False, default=str) for r in self.rejects], dtype=object)],
                fields=["layer", "source", "feature", "reason", "properties"],
            )
            written.append(gpkg)
        return written
