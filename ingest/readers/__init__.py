"""Readers by name (after pygeoapi's plugin mapping): adding a format is one module and one line."""

import importlib
import zipfile
from pathlib import Path

from layers.errors import InvalidInput

from .base import Reader, SourceLayer

READERS = {
    "ogr": "ingest.readers.ogr.OgrReader",
    "dxf": "ingest.readers.dxf.CassDxfReader",
}


def load_reader(name_or_path: str) -> Reader:
    dotted = READERS.get(name_or_path, name_or_path)
    module, _, cls = dotted.rpartition(".")
    return getattr(importlib.import_module(module), cls)()


def reader_for(path: Path) -> Reader:
    suffix = path.suffix.lower()
    for name in READERS:
        reader = load_reader(name)
        if suffix in reader.suffixes:
            return reader
    raise InvalidInput(f"{path.name}: unsupported file type {suffix or '(none)'}")


def datasets_in(path: Path) -> list[Path]:
    """The readable datasets in a directory (an unzipped delivery), one per Shapefile/GPKG/…"""
    if path.suffix.lower() == ".gdb":
        return [path]
    found = []
    for p in sorted(path.rglob("*")):
        if p.suffix.lower() == ".gdb" and p.is_dir():
            found.append(p)
        elif p.is_file() and not any(part.lower().endswith(".gdb") for part in p.parts[:-1]):
            if p.suffix.lower() in {s for name in READERS for s in load_reader(name).suffixes} - {".gdb", ".json"}:
                found.append(p)
    return found


def safe_extract(archive: Path, into: Path, *, max_bytes: int = 20 * 2**30) -> Path:
    """Unzip without zip-slip (no absolute paths, no `..`, no links) and within a size cap.
    Member names are decoded as UTF-8 when flagged, else tried as GBK (Chinese Windows zips)."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"{archive.name}: not a valid zip file ({exc})") from exc
    with zf:
        total = 0
        root = into.resolve()
        for info in zf.infolist():
            name = info.filename
            if not info.flag_bits & 0x800:  # not flagged UTF-8: cp437 per the spec, GBK in practice
                try:
                    name = name.encode("cp437").decode("gbk")
                except (UnicodeEncodeError, UnicodeDecodeError):
                    pass
            target = (root / name).resolve()
            if not target.is_relative_to(root) or name.startswith("/") or (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise InvalidInput(f"{archive.name}: unsafe member path {info.filename!r}")
            total += info.file_size
            if total > max_bytes:
                raise InvalidInput(f"{archive.name}: expands beyond {max_bytes // 2**30} GiB")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
    return into


__all__ = ["READERS", "Reader", "SourceLayer", "datasets_in", "load_reader", "reader_for", "safe_extract"]
