"""The POI category code list (categories.json, documented in docs/poi.md) and ratings."""

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Category:
    code: str
    group: str
    zh: str
    en: str
    ug: str
    rating: str | None  # "a_level", "star" or None
    aliases: tuple[str, ...]


@cache
def _load() -> tuple[dict[str, Category], dict[str, dict]]:
    raw = json.loads((Path(__file__).with_name("categories.json")).read_text(encoding="utf-8"))
    cats = {}
    for c in raw["categories"]:
        cats[c["code"]] = Category(c["code"], c["group"], c["zh"], c["en"], c["ug"], c["rating"], tuple(c["aliases"]))
    return cats, raw["groups"]


def all_categories() -> list[Category]:
    return list(_load()[0].values())


def groups() -> dict[str, dict]:
    return _load()[1]


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


@cache
def _lookup() -> dict[str, Category]:
    table = {}
    for c in all_categories():
        for name in (c.code, c.zh, c.en, *c.aliases):
            table.setdefault(_key(name), c)
    return table


def find(text: str) -> Category | None:
    """A category by code, Chinese or English name, or alias (full-width and case ignored)."""
    return _lookup().get(_key(text)) if text else None


_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}


def parse_rating(text: str, category: Category) -> str | None:
    """The canonical rating ("5A" or "4" stars) or None when it cannot be this category's.
    Accepts 5A / AAAAA / 5A级 / 国家5A级; 4 / 4星 / 四星 / ★★★★ / 四星级."""
    t = _key(text).upper().replace("级", "").replace("国家", "").replace("旅游景区", "").strip()
    if category.rating == "a_level":
        m = re.fullmatch(r"([1-5])A|(A{1,5})|([一二三四五])A", t)
        if not m:
            return None
        n = int(m.group(1)) if m.group(1) else len(m.group(2)) if m.group(2) else _CN_DIGITS[m.group(3)]
        return f"{n}A"
    if category.rating == "star":
        m = re.fullmatch(r"([1-5])(?:星)?|(★{1,5})|([一二三四五])星", t)
        if not m:
            return None
        n = int(m.group(1)) if m.group(1) else len(m.group(2)) if m.group(2) else _CN_DIGITS[m.group(3)]
        return str(n)
    return None
