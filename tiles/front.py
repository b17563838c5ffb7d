"""What a static front (nginx, started by `geoplatform serve`) may read straight from disk, and the
X-Accel-Redirect answer that lets it send a cached vector tile after the app's access check.

nginx never decides access: it serves tiles only through the links under `TILES_DIR/front/`:

    raster/<layer> -> ../../mapproxy/cache/<layer>_<style key>   stored MapProxy caches (public only)
    vt/<layer>     -> ../../vt/public/<layer>                      vector tiles of public layers

`publish()` makes them from the configuration `regenerate()` just wrote (under its lock), so a link
exists only for a layer the catalog says is public, and always points at the current style's cache.
`withdraw()` removes a layer's links as soon as its access changes or it is deleted, before that
change commits: a tile that a racing request writes into a public folder afterwards is never
reachable through nginx. A missing or dangling link only costs speed (nginx hands the request to
the app), so both err on the side of no link.
"""

import contextlib
import logging
import os
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

# Set by nginx on the requests it proxies (and cleared when the accelerated file is gone), so the
# app only answers X-Accel-Redirect to a front that can follow it.
ACCEL_META = "HTTP_X_GEOPLATFORM_ACCEL"
ACCEL_PREFIX = "/_accel/vt/"  # nginx's internal location for TILES_DIR/vt/


def root() -> Path:
    return Path(settings.TILES_DIR) / "front"


def _link(folder: Path, name: str, target: str) -> None:
    """Point folder/name at target, replacing any previous link in one rename."""
    link = folder / name
    with contextlib.suppress(OSError):
        if os.readlink(link) == target:
            return
    tmp = folder / f".{name}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _prune(folder: Path, keep: set[str]) -> None:
    for entry in folder.iterdir():
        if entry.name not in keep and entry.is_symlink():
            entry.unlink(missing_ok=True)


def stored_caches(conf: dict) -> dict[str, str]:
    """MapProxy layer name -> its stored cache, from a generated configuration. Only public layers
    (and the basemap made of them) have one; others render per request (`disable_storage`)."""
    caches = conf.get("caches", {})
    out = {}
    for entry in conf.get("layers", []):
        sources = entry.get("sources") or []
        if len(sources) == 1 and sources[0] in caches and not caches[sources[0]].get("disable_storage"):
            out[entry["name"]] = sources[0]
    return out


def publish(conf: dict, public_vector: list[str]) -> None:
    """Make the links for the stored raster caches of `conf` and the vector tiles of the public
    layers `public_vector`, and drop every other link. Called by `regenerate()` under its lock."""
    raster, vt = root() / "raster", root() / "vt"
    raster.mkdir(parents=True, exist_ok=True)
    vt.mkdir(parents=True, exist_ok=True)
    rasters = stored_caches(conf)
    # Withdraw first, then link: a reader never sees more than the new configuration allows.
    _prune(raster, set(rasters))
    _prune(vt, set(public_vector))
    for name, cache in rasters.items():
        _link(raster, name, f"../../mapproxy/cache/{cache}")
    for slug in public_vector:
        _link(vt, slug, f"../../vt/public/{slug}")


def withdraw(slug: str) -> None:
    """Remove the links of layer `slug` and of every raster cache drawing it (the basemap), now.
    The regeneration after the change commits links again what is still public."""
    from tiles.mapproxy.config import serves_this_database
    from tiles.mapproxy.files import exclusive
    from tiles.mapproxy.paths import paths

    if not root().exists() or not serves_this_database():
        return  # a tiles directory of another database (a test run): not ours to change
    with exclusive(paths().lock_file):
        (root() / "vt" / slug).unlink(missing_ok=True)
        drawing = _caches_drawing(slug)
        folder = root() / "raster"
        for link in folder.iterdir() if folder.exists() else []:
            if not link.is_symlink():
                continue
            if link.name == slug or drawing is None or os.path.basename(os.readlink(link)) in drawing:
                link.unlink(missing_ok=True)


def _caches_drawing(slug: str) -> set[str] | None:
    """Caches whose sources draw `slug`, from the current mapproxy.yaml; None if unreadable
    (then every raster link goes)."""
    import yaml

    from tiles.mapproxy.paths import paths

    try:
        conf = yaml.safe_load(paths().mapproxy_yaml.read_text())
        sources = {name for name, source in conf.get("sources", {}).items()
                   if slug in str(source.get("req", {}).get("layers", "")).split(",")}
        caches = conf.get("caches", {})
        return {name for name, cache in caches.items() if sources.intersection(cache.get("sources", []))}
    except Exception:
        log.warning("front: cannot read the MapProxy configuration; withdrawing every raster link")
        return None


def accel_uri(request, tile: Path) -> str | None:
    """The internal nginx URI of a cached, non-empty vector tile (public or private folder), if the
    request came through the front; the caller has already checked access."""
    if request.META.get(ACCEL_META) != "1":
        return None
    try:
        if tile.stat().st_size == 0:
            return None  # an empty tile is a 204 without a body: the app answers it
        return ACCEL_PREFIX + tile.relative_to(Path(settings.TILES_DIR) / "vt").as_posix()
    except (OSError, ValueError):
        return None
