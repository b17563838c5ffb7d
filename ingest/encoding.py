"""Which character encoding a Shapefile's attribute table (.dbf) uses, and how we know.

Shapefiles from Chinese desktop GIS usually carry GBK (code page 936) text, often with
no ``.cpg`` and a DBF language driver byte of 0, and their field NAMES may be Chinese
too. pyogrio then reads the text as ISO-8859-1 and silently returns mojibake (名称
comes back as "Ãû³Æ"), so we decide the encoding ourselves, in this order:

1. ``override`` (the user's ``--encoding``), validated;
2. a ``.cpg`` next to the ``.dbf`` ("UTF-8", "936", "ANSI 936", "GBK", "GB2312", …);
3. the DBF header's language driver id (byte 29), only when it names a CJK code page;
4. the bytes themselves: field names and a bounded sample of records (at most
   ``SAMPLE_BYTES`` read, constant memory): pure ASCII or strict UTF-8 -> UTF-8,
   else GB18030 (a superset of GBK/GB2312) if everything decodes, else InvalidInput.

The result is an ``EncodingChoice``; ``read_kwargs(choice)`` gives the keyword arguments
for ``pyogrio.read_info`` / ``pyogrio.raw.read`` / ``pyogrio.read_dataframe``.

How pyogrio 0.13 uses ``encoding=`` for the "ESRI Shapefile" driver: it sets GDAL's
SHAPE_ENCODING config option (thread-locally) to that name before opening the file, so
GDAL itself recodes field names AND values to UTF-8 (the name must be one GDAL's
recoder/iconv knows: "UTF-8", "GBK", "CP936", "GB18030" all work; Python-only aliases
such as "u8" or a bare "936" do not), then pyogrio decodes as UTF-8 and reports
``meta["encoding"] == "UTF-8"``. SHAPE_ENCODING takes precedence over any ``.cpg`` and the
LDID byte. Without ``encoding=`` a GBK file with no hints comes back as ISO-8859-1
mojibake, without any error.
"""

from __future__ import annotations

import codecs
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from layers.errors import InvalidInput

#: at most this many bytes of records are read for detection (head + evenly spaced windows)
SAMPLE_BYTES = 4 * 1024 * 1024
_WINDOWS = 8  # the sample: the first half of the budget, then this many windows over the rest

#: Python codec name (codecs.lookup(...).name) -> the spelling we hand to GDAL/pyogrio.
#: GB2312 is widened to GBK: same mapping, and files labelled GB2312 routinely contain
#: GBK-only characters (ArcGIS and many Chinese tools say "GB2312" for code page 936).
_CANONICAL = {
    "utf-8": "UTF-8",
    "gbk": "GBK",
    "gb2312": "GBK",
    "gb18030": "GB18030",
    "big5": "BIG5",
    "cp950": "CP950",
    "big5hkscs": "BIG5-HKSCS",
    "cp932": "CP932",
    "shift_jis": "SHIFT_JIS",
    "euc_jp": "EUC-JP",
    "cp949": "CP949",
    "euc_kr": "EUC-KR",
    "iso8859-1": "ISO-8859-1",
    "latin-1": "ISO-8859-1",
    "ascii": "ASCII",
}

#: Windows / DOS code page numbers as written in .cpg files ("936", "ANSI 936", "CP936")
_CODE_PAGES = {
    65001: "UTF-8",
    936: "GBK",
    20936: "GBK",  # GB2312 (widened, see above)
    54936: "GB18030",
    950: "CP950",
    932: "CP932",
    949: "CP949",
    28591: "ISO-8859-1",
}

#: DBF language driver ids that name a CJK code page (as GDAL's shapefile driver maps them).
#: Only these are trusted: 0x57 "ANSI" (87) and 0 say nothing about the actual code page.
_CJK_LDID = {
    0x13: 932,  # Japanese Shift-JIS
    0x4D: 936,  # Chinese GBK (PRC) / GB2312
    0x4E: 949,  # Korean
    0x4F: 950,  # Chinese Big5 (Taiwan)
    0x78: 950,
    0x79: 949,
    0x7A: 936,
    0x7B: 932,
}


@dataclass(frozen=True)
class EncodingChoice:
    encoding: str  # Python codec name that GDAL (SHAPE_ENCODING) and pyogrio also accept
    source: str  # "override" | "cpg" | "ldid" | "detected"
    note: str  # one sentence for the load report


def read_kwargs(choice: EncodingChoice) -> dict:
    """Keyword arguments for pyogrio (read_info, raw.read, read_dataframe, open_arrow).

    Always explicit, even for UTF-8: pyogrio then sets SHAPE_ENCODING, which overrides
    whatever the .cpg/LDID would make GDAL guess, so every read of the file agrees with
    the choice we reported.
    """
    return {"encoding": choice.encoding}


# ---------------------------------------------------------------------------- names


def _text_codec(name: str) -> codecs.CodecInfo | None:
    try:
        info = codecs.lookup(name)
    except (LookupError, TypeError, ValueError):
        return None
    return info if getattr(info, "_is_text_encoding", True) else None  # not base64, rot13…


def normalize_encoding(label: str) -> str | None:
    """A .cpg label or user-given name -> our canonical codec name, or None if unknown.

    Accepts what .cpg files and people write: "UTF-8", "utf8", "65001", "936", "CP936",
    "ANSI 936", "GBK", "GB2312", "GB18030", "ISO-8859-1", "8859-1", "1252", …
    """
    text = label.strip().lstrip("\ufeff").strip().strip('"').strip()
    if not text:
        return None
    upper = text.upper()
    m = re.fullmatch(r"(?:ANSI|OEM|CP|MS|WINDOWS|IBM|X-CP)?[\s_-]*(\d{3,6})", upper)
    if m:
        number = int(m.group(1))
        if number in _CODE_PAGES:
            return _CODE_PAGES[number]
        if 88591 <= number <= 885916:  # ArcGIS writes "88591" for ISO 8859-1
            text = f"iso8859-{str(number)[4:]}"
        else:
            text = f"cp{number}"
    m = re.fullmatch(r"(?:ISO)?[\s_-]*8859[\s_-]*(\d{1,2})", upper)
    if m:
        text = f"iso8859-{int(m.group(1))}"
    info = _text_codec(text)
    if info is None:
        return None
    name = info.name
    if name in _CANONICAL:
        return _CANONICAL[name]
    if name.startswith("iso8859-"):
        return "ISO-8859-" + name.split("-", 1)[1]
    return name.upper().replace("_", "-")


# ---------------------------------------------------------------------------- files


def _sibling(path: Path, suffix: str) -> Path | None:
    """``path``'s stem with ``suffix`` (".dbf"), matching the suffix case-insensitively."""
    exact = path.with_suffix(suffix)
    if exact.is_file():
        return exact
    try:
        for entry in path.parent.iterdir():
            if entry.stem == path.stem and entry.suffix.lower() == suffix and entry.is_file():
                return entry
    except OSError:
        pass
    return None


def _dbf_path(shp_or_dbf_path: str | Path) -> tuple[Path, Path | None]:
    path = Path(shp_or_dbf_path)
    if path.suffix.lower() == ".dbf" and path.is_file():
        return path, path
    return path, _sibling(path, ".dbf")


@dataclass
class _Field:
    name_bytes: bytes
    type: str
    offset: int  # within the record, after the deletion flag
    length: int

    def label(self) -> str:
        try:
            return self.name_bytes.decode("utf-8")
        except UnicodeDecodeError:
            return self.name_bytes.decode("gb18030", errors="replace")


@dataclass
class _Header:
    records: int
    header_length: int
    record_length: int
    ldid: int
    fields: list[_Field]


def _read_header(f, dbf: Path) -> _Header:
    head = f.read(32)
    if len(head) < 32:
        raise InvalidInput(f"{dbf}: not a dBase file (only {len(head)} bytes)")
    records, header_length, record_length = struct.unpack("<IHH", head[4:12])
    if header_length < 33 or record_length < 1:
        raise InvalidInput(f"{dbf}: not a dBase file (header length {header_length}, record length {record_length})")
    descriptors = f.read(header_length - 32)
    fields: list[_Field] = []
    offset = 1  # byte 0 of each record is the deletion flag
    for start in range(0, len(descriptors) - 31, 32):
        d = descriptors[start : start + 32]
        if d[0] == 0x0D:
            break
        name = d[:11].split(b"\x00", 1)[0].rstrip(b" ")
        length = d[16]
        if d[11:12] not in (b"N", b"F"):
            length += d[17] << 8  # as shapelib: widths above 255 use the decimals byte
        fields.append(_Field(name, chr(d[11]), offset, length))
        offset += length
    return _Header(records, header_length, record_length, head[29], fields)


def _sample(f, header: _Header):
    """(record number, raw record) for a bounded sample of live records.

    The head of the file up to half of SAMPLE_BYTES, then _WINDOWS evenly spaced windows
    sharing the other half; never more than one window in memory.
    """
    rl, n = header.record_length, header.records
    if n == 0:
        return
    per_window = max(1, SAMPLE_BYTES // 2 // rl)
    spans = [(0, min(n, per_window))]
    if n > per_window:
        rest = n - per_window
        width = max(1, SAMPLE_BYTES // 2 // _WINDOWS // rl)
        for i in range(_WINDOWS):
            start = per_window + rest * i // _WINDOWS
            spans.append((start, min(n, start + width)))
    done = 0
    for start, stop in spans:
        start = max(start, done)
        if start >= stop:
            continue
        f.seek(header.header_length + start * rl)
        block = f.read((stop - start) * rl)
        for i in range(len(block) // rl):
            record = block[i * rl : (i + 1) * rl]
            if record[:1] == b"*":  # deleted: GDAL skips it too
                continue
            yield start + i + 1, record
        done = stop


def _decodes(value: bytes, codec: str, full_width: bool) -> bool:
    try:
        value.decode(codec)
        return True
    except UnicodeDecodeError as exc:
        # A writer that cut a string at the field width may have split the last character.
        return full_width and exc.end == len(value) and exc.start >= len(value) - 3 and _decodes(
            value[: exc.start], codec, False
        )


_CANDIDATES = ("utf-8", "gb18030")


def _scan(header: _Header, f, candidates: tuple[str, ...] = _CANDIDATES):
    """Check every non-ASCII field name and sampled character value against each codec.

    Returns (non_ascii_seen, {codec: first failure or None}); a failure is a
    (record number, or None for the header, field label) pair. Stops reading once
    every codec has failed.
    """
    failures: dict[str, tuple[int | None, str] | None] = dict.fromkeys(candidates)
    non_ascii = False

    def check(value: bytes, where: tuple[int | None, str], full_width: bool) -> None:
        nonlocal non_ascii
        if value.isascii():
            return
        non_ascii = True
        for codec, failed in failures.items():
            if failed is None and not _decodes(value, codec, full_width):
                failures[codec] = where

    for fld in header.fields:
        check(fld.name_bytes, (None, fld.label()), len(fld.name_bytes) >= 10)
    text_fields = [fld for fld in header.fields if fld.type in "CcVv"]
    if text_fields:
        for number, record in _sample(f, header):
            for fld in text_fields:
                value = record[fld.offset : fld.offset + fld.length].rstrip(b" \x00")
                check(value, (number, fld.label()), len(value) == fld.length)
            if all(failures.values()):
                break
    return non_ascii, failures


def _where(failure: tuple[int | None, str]) -> str:
    number, field = failure
    if number is None:
        return f"field name {field!r}"
    return f"record {number} (FID {number - 1}), field {field!r}"


def _is_gb2312(label: str) -> bool:
    info = _text_codec(label.strip())
    return (info is not None and info.name == "gb2312") or re.sub(r"\D", "", label) == "20936"


def _widened(label: str) -> str:
    return " (GB2312 read as its superset GBK)" if _is_gb2312(label) else ""


def detect_dbf_encoding(shp_or_dbf_path: str | Path, override: str | None = None) -> EncodingChoice:
    """Decide the encoding of a Shapefile's .dbf (give the .shp or the .dbf); see module doc."""
    if override is not None and override.strip():
        name = normalize_encoding(override)
        if name is None:
            raise InvalidInput(
                f"unknown encoding {override!r}: use a name such as UTF-8, GBK, GB18030 or CP936, "
                "or a code page number such as 936"
            )
        return EncodingChoice(name, "override", f"encoding given by the user: {name}{_widened(override)}")

    path, dbf = _dbf_path(shp_or_dbf_path)
    if dbf is None:
        return EncodingChoice("UTF-8", "detected", f"no .dbf next to {path.name}: no attributes to decode; using UTF-8")

    cpg = _sibling(dbf, ".cpg")
    if cpg is None:
        prefix = "no .cpg; "
    else:
        try:
            label = cpg.read_bytes()[:200].decode("ascii", errors="replace").strip()
        except OSError as exc:
            label, prefix = "", f"{cpg.name} unreadable ({exc}); "
        else:
            prefix = f"{cpg.name} says {label!r}, not a known encoding; " if label else f"{cpg.name} is empty; "
        name = normalize_encoding(label) if label else None
        if name is not None:
            return EncodingChoice(name, "cpg", f"{cpg.name} says {label!r}: using {name}{_widened(label)}")

    try:
        with dbf.open("rb") as f:
            header = _read_header(f, dbf)
            code_page = _CJK_LDID.get(header.ldid)
            ldid_name = _CODE_PAGES[code_page] if code_page else None
            candidates = _CANDIDATES + ((ldid_name.lower(),) if ldid_name else ())
            non_ascii, failures = _scan(header, f, candidates)
    except OSError as exc:
        raise InvalidInput(f"{dbf}: cannot be read ({exc})") from exc

    if ldid_name:
        ldid = f"DBF language driver 0x{header.ldid:02X} (code page {code_page})"
        if failures[ldid_name.lower()] is None:
            return EncodingChoice(ldid_name, "ldid", f"{prefix}{ldid} says {ldid_name}: using {ldid_name}")
        prefix += f"{ldid} does not fit the bytes at {_where(failures[ldid_name.lower()])}; "
    elif header.ldid:
        prefix += f"DBF language driver 0x{header.ldid:02X} ignored (not a CJK code page); "

    if not non_ascii:
        return EncodingChoice(
            "UTF-8", "detected", f"{prefix}field names and sampled values are pure ASCII: using UTF-8"
        )
    if failures["utf-8"] is None:
        return EncodingChoice("UTF-8", "detected", f"{prefix}attribute bytes decode as UTF-8: using UTF-8")
    if failures["gb18030"] is None:
        return EncodingChoice(
            "GB18030",
            "detected",
            f"{prefix}attribute bytes decode as GB18030 (not valid UTF-8 at {_where(failures['utf-8'])}): "
            "using GB18030, the superset of GBK/GB2312 that Chinese desktop GIS writes",
        )
    raise InvalidInput(
        f"{dbf}: cannot tell the attribute encoding: the bytes are neither UTF-8 "
        f"(first bad value at {_where(failures['utf-8'])}) nor GB18030/GBK "
        f"(first bad value at {_where(failures['gb18030'])}); "
        "give the encoding with --encoding (e.g. --encoding CP1252) or add a .cpg file next to the .dbf"
    )
