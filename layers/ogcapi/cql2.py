"""CQL2 (text and JSON) → a parameterised SQL condition on one layer table.

pygeofilter parses; this module walks its AST and emits psycopg `sql.Composed` with every
property name checked against the layer's columns (the queryables) and passed as an
Identifier, and every value as a query parameter: no string-built SQL, nothing evaluated.
pygeofilter's CQL2 grammar lacks S_DWITHIN, which departments need, so the text grammar is
extended by one rule and the JSON form is mapped before parsing.
"""

import functools
import json
import math
import os
from dataclasses import dataclass, field

import shapely
from pyproj import Transformer
from lark import Lark, v_args
from lark.exceptions import LarkError
from psycopg import sql
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_json_ast
from pygeofilter.parsers.cql2_text import parser as cql2_text_module

from ..errors import InvalidInput

_GRAMMAR = os.path.join(os.path.dirname(cql2_text_module.__file__), "grammar.lark")
# Property names: any Unicode identifier (layers have Chinese column names) or a double-quoted name;
# pygeofilter's own rule takes ASCII names of two or more characters only.
_EXTENSION = r"""
%override attribute: /[^\W\d]\w*(?:[:.]\w+)*/ | DOUBLE_QUOTED
%extend spatial_predicate: "S_DWITHIN"i "(" expression "," expression "," full_number ["," attribute] ")" -> dwithin_spatial_predicate
"""


@v_args(meta=False, inline=True)
class _Transformer(cql2_text_module.CQLTransformer):
    def dwithin_spatial_predicate(self, lhs, rhs, distance, units=None):
        unit = units.name if isinstance(units, ast.Attribute) else "meters"
        return ast.DistanceWithin(lhs, rhs, distance, unit.lower())


_text_parser = Lark(
    open(_GRAMMAR, encoding="utf-8").read() + _EXTENSION,
    parser="lalr",
    maybe_placeholders=False,
    transformer=_Transformer(),
    import_paths=[os.path.dirname(os.path.dirname(cql2_text_module.__file__))],
)

METRES = {"meters": 1.0, "metres": 1.0, "m": 1.0, "kilometers": 1000.0, "kilometres": 1000.0, "km": 1000.0}


def parse(text: str, lang: str = "cql2-text") -> ast.Node:
    try:
        if lang == "cql2-json":
            data = json.loads(text) if isinstance(text, str) else text
            return _parse_json(data)
        if lang != "cql2-text":
            raise InvalidInput(f"filter-lang must be cql2-text or cql2-json, not {lang!r}")
        return _text_parser.parse(text)
    except InvalidInput:
        raise
    except (LarkError, ValueError, TypeError, KeyError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"invalid {lang} filter: {str(exc).splitlines()[0][:300]}") from exc


def _parse_json(node) -> ast.Node:
    """pygeofilter's CQL2 JSON parser, plus s_dwithin (absent from its table), at any depth."""
    if isinstance(node, dict):
        op = str(node.get("op", "")).lower()
        args = node.get("args", [])
        if op == "s_dwithin":
            if len(args) not in (3, 4) or not isinstance(args[2], (int, float)):
                raise InvalidInput("s_dwithin takes a property, a geometry and a distance in metres")
            return ast.DistanceWithin(_parse_json(args[0]), _parse_json(args[1]), args[2],
                                      str(args[3]).lower() if len(args) == 4 else "meters")
        if op in ("and", "or") and isinstance(args, list) and args:
            combine = ast.And if op == "and" else ast.Or
            return combine.from_items(*[_parse_json(a) for a in args])
        if op == "not" and isinstance(args, list) and len(args) == 1:
            return ast.Not(_parse_json(args[0]))
    return parse_json_ast(node)


@functools.lru_cache(maxsize=32)
def _transformer(source: int, target: int) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)  # ~0.1 s to build: once per pair


@dataclass
class Compiler:
    """Turns an AST into SQL for one table. `columns` maps queryable names to SQL types."""

    columns: dict[str, str]
    geometry_column: str = "geom"
    storage_srid: int = 4490
    filter_srid: int = 4490  # of geometry literals (filter-crs); lon/lat order for CRS84/4490 input
    filter_flip: bool = False  # literal coordinates come in north-first order (EPSG axis order)
    params: list = field(default_factory=list)

    def compile(self, node) -> sql.Composable:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise InvalidInput(f"filter: {type(node).__name__} is not supported")
        return method(node)

    # values ------------------------------------------------------------------------------
    def _value(self, node) -> sql.Composable:
        if isinstance(node, ast.Attribute):
            return self._Attribute(node)
        if isinstance(node, (values.Geometry, values.Envelope, dict)):
            return self._geometry(node)
        if isinstance(node, (str, int, float, bool)) or node is None:
            self.params.append(node)
            return sql.Placeholder()
        if hasattr(node, "isoformat"):
            self.params.append(node)
            return sql.Placeholder()
        if isinstance(node, ast.Node):
            return self.compile(node)
        raise InvalidInput(f"filter: unsupported value {node!r}")

    def _Attribute(self, node: ast.Attribute) -> sql.Composable:
        if node.name == self.geometry_column or node.name.lower() in {"geometry", "geom", "the_geom"}:
            return sql.Identifier(self.geometry_column)
        if node.name not in self.columns:
            raise InvalidInput(f"filter: unknown property {node.name!r} (see /queryables)")
        return sql.Identifier(node.name)

    def _shape(self, node):
        """The literal as a shapely geometry in filter-crs coordinates, x first."""
        if isinstance(node, values.Envelope):
            geom = shapely.box(node.x1, node.y1, node.x2, node.y2)
        else:
            data = node.geometry if isinstance(node, values.Geometry) else node
            try:
                geom = shapely.from_geojson(json.dumps(data))
            except Exception as exc:
                raise InvalidInput(f"filter: invalid geometry ({exc})") from exc
        if self.filter_flip:
            geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
        return geom

    def _geometry(self, node) -> sql.Composable:
        self.params.append(shapely.to_wkb(self._shape(node)))
        literal = sql.SQL("ST_SetSRID(ST_GeomFromWKB({}), {})").format(sql.Placeholder(), sql.Literal(self.filter_srid))
        if self.filter_srid != self.storage_srid:
            literal = sql.SQL("ST_Transform({}, {})").format(literal, sql.Literal(self.storage_srid))
        return literal

    # logic --------------------------------------------------------------------------------
    def _And(self, node):
        return sql.SQL("({} AND {})").format(self.compile(node.lhs), self.compile(node.rhs))

    def _Or(self, node):
        return sql.SQL("({} OR {})").format(self.compile(node.lhs), self.compile(node.rhs))

    def _Not(self, node):
        return sql.SQL("(NOT {})").format(self.compile(node.sub_node))

    def _Include(self, node):
        return sql.SQL("true")

    def _Exclude(self, node):
        return sql.SQL("false")

    def _binary(template):  # `template` (from the fixed lists below, never user text) of lhs, rhs
        def method(self, node):
            return sql.SQL(template).format(self._value(node.lhs), self._value(node.rhs))
        return method

    _Equal = _binary("({} = {})")
    _NotEqual = _binary("({} <> {})")
    _LessThan = _binary("({} < {})")
    _LessEqual = _binary("({} <= {})")
    _GreaterThan = _binary("({} > {})")
    _GreaterEqual = _binary("({} >= {})")

    def _Between(self, node):
        expr = sql.SQL("({} BETWEEN {} AND {})").format(self._value(node.lhs), self._value(node.low), self._value(node.high))
        return sql.SQL("(NOT {})").format(expr) if node.not_ else expr

    def _Like(self, node):
        op = sql.SQL("ILIKE" if node.nocase else "LIKE")
        expr = sql.SQL("({} {} {})").format(self._value(node.lhs), op, self._value(node.pattern))
        return sql.SQL("(NOT {})").format(expr) if node.not_ else expr

    def _In(self, node):
        items = sql.SQL(", ").join(self._value(v) for v in node.sub_nodes)
        return sql.SQL("({} {} ({}))").format(self._value(node.lhs), sql.SQL("NOT IN" if node.not_ else "IN"), items)

    def _IsNull(self, node):
        return sql.SQL("({} IS {}NULL)").format(self._value(node.lhs), sql.SQL("NOT " if node.not_ else ""))

    # arithmetic ---------------------------------------------------------------------------
    _Add = _binary("({} + {})")
    _Sub = _binary("({} - {})")
    _Mul = _binary("({} * {})")
    _Div = _binary("(({})::numeric / {})")  # CQL2's `/` divides; PostgreSQL's truncates integers

    def _Function(self, node):
        if node.name.lower() in {"lower", "casei"} and len(node.arguments) == 1:
            return sql.SQL("lower({})").format(self._value(node.arguments[0]))
        raise InvalidInput(f"filter: function {node.name!r} is not supported")

    # space --------------------------------------------------------------------------------
    _GeometryIntersects = _binary("ST_Intersects({}, {})")
    _GeometryDisjoint = _binary("ST_Disjoint({}, {})")
    _GeometryContains = _binary("ST_Contains({}, {})")
    _GeometryWithin = _binary("ST_Within({}, {})")
    _GeometryTouches = _binary("ST_Touches({}, {})")
    _GeometryCrosses = _binary("ST_Crosses({}, {})")
    _GeometryOverlaps = _binary("ST_Overlaps({}, {})")
    _GeometryEquals = _binary("ST_Equals({}, {})")
    del _binary

    def _BBox(self, node):
        return self._GeometryIntersects(
            ast.GeometryIntersects(node.lhs, values.Envelope(node.minx, node.maxx, node.miny, node.maxy))
        )

    def _DistanceWithin(self, node):
        """Within N metres on the ellipsoid, using the GiST index: a bbox prefilter widened by
        the distance in degrees at the literal's highest latitude, then the exact geography test."""
        factor = METRES.get(str(node.units).lower())
        if factor is None:
            raise InvalidInput(f"filter: unknown distance unit {node.units!r} (meters or kilometers)")
        try:
            metres = float(node.distance) * factor
        except (TypeError, ValueError):
            raise InvalidInput("filter: S_DWITHIN needs a numeric distance") from None
        if not 0 <= metres <= 2_000_000:
            raise InvalidInput("filter: S_DWITHIN distance must be between 0 and 2000 km")
        shape = self._shape(node.rhs)
        if self.filter_srid != self.storage_srid:
            to_storage = _transformer(self.filter_srid, self.storage_srid)
            shape = shapely.transform(shape, to_storage.transform, interleaved=False)
        top = min(max(abs(shape.bounds[1]), abs(shape.bounds[3])) + 1.0, 89.0)
        # A degree of longitude is the shorter one: widening by it covers latitude too.
        margin = metres / (111_320.0 * math.cos(math.radians(top)))
        # Parameters go in the order their placeholders appear below.
        column = self._value(node.lhs)
        prefilter = self._value(node.rhs)
        self.params.append(margin)
        exact = self._value(node.rhs)
        self.params.append(metres)
        return sql.SQL("({col} && ST_Expand({pre}, {m}) AND ST_DWithin({col}::geography, {lit}::geography, {d}))").format(
            col=column, pre=prefilter, lit=exact, m=sql.Placeholder(), d=sql.Placeholder())
