"""The label fonts: Noto Sans CJK in its Simplified Chinese face (Debian's fonts-noto-cjk) and
Noto Sans Arabic for Uyghur (Arabic script; Debian's fonts-noto-core).

Debian ships the CJK fonts as collections (.ttc) whose first face is Japanese; MapServer's FONTSET
always opens face 0, which would draw some Han characters in their Japanese forms. The SC face is
extracted once (fontTools, ≈ 1 s, 16 MB) into the generated directory.
"""

import logging
import shutil
import subprocess
from pathlib import Path

from .files import staged

log = logging.getLogger(__name__)

FAMILY = "Noto Sans CJK SC"
FALLBACK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# Uyghur in Arabic script: MapServer shapes it with HarfBuzz and orders it with FriBidi (both
# linked into Debian's mapserv, `mapserv -v` says SUPPORTS=FRIBIDI); the font needs Uyghur's
# extra letters (ۇ ۆ ۈ ې ڭ ۋ ئ ە), which Noto Sans Arabic and Noto Naskh Arabic have.
ARABIC_FAMILIES = ["Noto Sans Arabic", "Noto Naskh Arabic"]
ARABIC_FALLBACK = Path("/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf")


def _match(family: str) -> tuple[Path, int] | None:
    if not shutil.which("fc-match"):
        return None
    out = subprocess.run(
        ["fc-match", "-f", "%{family}|%{file}|%{index}", f"{family}:style=Regular"],
        capture_output=True, text=True, check=False,
    ).stdout
    families, _sep, rest = out.partition("|")
    file, _sep, index = rest.partition("|")
    if family not in families.split(",") or not file:
        return None
    return Path(file), int(index or 0)


def cjk_font(font_dir: Path) -> Path:
    """A font file whose first face is Noto Sans CJK SC (or the best available fallback)."""
    found = _match(FAMILY)
    if found is None:
        if FALLBACK.exists():
            log.warning("tiles: %s not found by fontconfig; labels use %s", FAMILY, FALLBACK)
            return FALLBACK
        raise RuntimeError(f"no CJK font: install fonts-noto-cjk ({FAMILY})")
    path, index = found
    if index == 0:
        return path
    target = font_dir / "NotoSansCJKsc-Regular.otf"
    if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    try:
        from fontTools.ttLib import TTCollection
    except ImportError:
        log.warning("tiles: fontTools missing; labels use face 0 of %s", path)
        return path
    with staged(target) as tmp:
        TTCollection(str(path), lazy=True).fonts[index].save(str(tmp))
    return target


def arabic_font() -> Path | None:
    """A font for Arabic-script (Uyghur) labels, or None (labels would show empty boxes)."""
    for family in ARABIC_FAMILIES:
        found = _match(family)
        if found is not None and found[1] == 0:
            return found[0]
    if ARABIC_FALLBACK.exists():
        return ARABIC_FALLBACK
    log.warning("tiles: no Arabic-script font (install fonts-noto-core): Uyghur labels will not render")
    return None
