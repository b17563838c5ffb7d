"""Where the generated files and the tile cache live: everything under `settings.TILES_DIR` if set,
else `DATA_DIR/tiles/`."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def mapproxy_dir(self) -> Path:
        return self.root / "mapproxy"

    @property
    def mapproxy_yaml(self) -> Path:
        return self.mapproxy_dir / "mapproxy.yaml"

    @property
    def cache_dir(self) -> Path:
        """Tile cache (file cache: storage every server shares). Only public layers are stored."""
        return self.mapproxy_dir / "cache"

    @property
    def mapserver_dir(self) -> Path:
        return self.root / "mapserver"

    @property
    def mapfile(self) -> Path:
        return self.mapserver_dir / "geoplatform.map"

    @property
    def mapserver_conf(self) -> Path:
        """MapServer 8's MAPSERVER_CONFIG_FILE."""
        return self.mapserver_dir / "mapserver.conf"

    @property
    def mapserv_cgi(self) -> Path:
        """The binary MapProxy runs for its mapserver sources (renderpool.wrapper)."""
        return self.mapserver_dir / "mapserv-cgi"

    @property
    def fontset(self) -> Path:
        return self.mapserver_dir / "fonts.txt"

    @property
    def font_dir(self) -> Path:
        return self.mapserver_dir / "fonts"

    @property
    def work_dir(self) -> Path:
        """mapserv's working directory."""
        return self.mapserver_dir / "work"

    @property
    def lock_file(self) -> Path:
        return self.root / ".regenerate.lock"


def paths() -> Paths:
    return Paths(Path(getattr(settings, "TILES_DIR", None) or Path(settings.DATA_DIR) / "tiles"))
