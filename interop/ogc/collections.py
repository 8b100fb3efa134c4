"""The public layers served as OGC API Features collections: grid cells in force,
administrative regions, reports at their public (coarsened) place, and city assets.

Only public fields are selected: codes, names and levels of cells and regions (never a
worker, a phone or the register behind them); of a report its tracking number, category,
status, times and the coarsened point that the trigger of migration 0009 keeps in
`public_point_3857` (never the pin, a description, the reporter or the handler). Reports
shown are those the public map shows (`maps.tiles`): every one except rejected and
duplicate reports, closed ones through the China day of closing and the
`RECENTLY_CLOSED_DAYS` days after it.

Pages are keyset-paged by internal id (stable under inserts); a bbox literal is built in
the column's CRS so the GiST index answers it, never by transforming the column.

`numberMatched` (first pages only) is exact or absent, never an estimate: the matches are
counted up to `COUNT_LIMIT`, and when there are more the count is left out, as OGC API
Features allows. So a filtered query with a few thousand matches gets its exact count,
and an unfiltered first page over a million reports stops counting at 10,001 rows instead
of reading them all (208-289 ms at 1M, issue 19).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    FromClause,
    Select,
    TableClause,
    and_,
    cast,
    func,
    null,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gis.crs import STORAGE_SRID, WEB_MERCATOR_SRID
from gis.geometry import BBox
from grid.models import CityAsset, GridCell, Region
from incidents.models.reports import Category, Incident
from incidents.status import NOT_HAZARD
from maps.tiles import RECENTLY_CLOSED_DAYS, SHOWN_CLOSED_SINCE_SQL

# 7 decimals (~1 cm) for boundaries; the public point is coarse anyway (6, ~10 cm).
_POLYGON_DECIMALS = 7
_POINT_DECIMALS = 6
# Web Mercator ends short of the poles: a bbox is clipped to it before transforming.
_MERCATOR_MAX_LAT = 85.05
# Matches counted at most for numberMatched; beyond it the count is left out.
COUNT_LIMIT = 10_000

# The models' own tables, not copies: each column and its type is declared once.
_regions = Region.__table__
_parents = _regions.alias("parent")
_cells = GridCell.__table__
_communities = _regions.alias("community")
_incidents = Incident.__table__
_assets = CityAsset.__table__
_categories = Category.__table__


@dataclass(frozen=True)
class ItemQuery:
    """What a client asked of a collection's items: lon/lat boxes (two when one crosses
    the antimeridian; a feature in either matches), created in [start, end) (None:
    open), property values to equal (queryable names only), the keyset cursor (last id
    seen), the page size, and whether to count every match (asked on a first page
    only)."""

    bbox: tuple[BBox, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    after: int | None = None
    limit: int = 10
    count: bool = False
    equals: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Page:
    """One page of features; `last_id` is the cursor for the next page when more
    follow; `number_matched` is the exact count of every match, when it was asked and
    there are at most COUNT_LIMIT."""

    features: list[dict[str, Any]]
    last_id: int | None
    number_matched: int | None


@dataclass(frozen=True)
class Extent:
    """A collection's lon/lat bbox and, for reports, the first creation time."""

    bbox: tuple[float, float, float, float] | None
    first: datetime | None


@dataclass(frozen=True)
class _Layer:
    """How one collection is read: its table, joins, the rows the public may see, the
    public id, the geometry as GeoJSON, the bbox and time tests, the public fields, and
    the lon/lat box of its rows (an aggregate)."""

    key: ColumnElement[Any]
    fid: ColumnElement[Any]
    table: FromClause
    source: FromClause
    visible: Callable[[], ColumnElement[bool]]
    geometry: ColumnElement[Any]
    in_bbox: Callable[[BBox], ColumnElement[bool]]
    created: ColumnElement[Any] | None
    properties: dict[str, ColumnElement[Any]]
    bounds: ColumnElement[Any]
    # Properties a client may filter on by equality (`?status=assigned`): the names are
    # this whitelist, the values always bound.
    queryables: tuple[str, ...] = ()


@dataclass(frozen=True)
class Collection:
    """A published collection: its id, titles and descriptions (zh-Hans, en), the
    geometry type it holds, how it is read, and what its feature ids look like."""

    id: str
    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    geometry_type: str
    layer: _Layer
    # Anything else is no feature, answered without asking the database.
    fid_pattern: str

    @property
    def temporal(self) -> bool:
        """Whether `datetime` filters it (on the time each feature was made)."""
        return self.layer.created is not None


def _geojson(geometry: ColumnElement[Any], decimals: int) -> ColumnElement[Any]:
    # Cast in SQL so the driver decodes the object (a text result would stay a string).
    return cast(func.ST_AsGeoJSON(geometry, decimals), JSON)


def _envelope(bbox: BBox) -> ColumnElement[Any]:
    return func.ST_MakeEnvelope(*bbox.as_tuple(), STORAGE_SRID)


def _report_is_public() -> ColumnElement[bool]:
    # The public map's rule, in its own SQL (maps/tiles.py): a closed report is shown
    # through the China day it closed and the RECENTLY_CLOSED_DAYS days after it.
    shown_since = text(f"({SHOWN_CLOSED_SINCE_SQL})").bindparams(recent_days=RECENTLY_CLOSED_DAYS)
    return and_(
        _incidents.c.public_point_3857.is_not(None),
        _incidents.c.status.not_in(sorted(NOT_HAZARD)),
        or_(_incidents.c.closed_at.is_(None), _incidents.c.closed_at >= shown_since),
    )


def _report_in_bbox(bbox: BBox) -> ColumnElement[bool]:
    south, north = (
        max(-_MERCATOR_MAX_LAT, min(_MERCATOR_MAX_LAT, v)) for v in (bbox.min_lat, bbox.max_lat)
    )
    box = func.ST_MakeEnvelope(bbox.min_lon, south, bbox.max_lon, north, STORAGE_SRID)
    return _incidents.c.public_point_3857.op("&&")(func.ST_Transform(box, WEB_MERCATOR_SRID))


def _always() -> ColumnElement[bool]:
    return true()


def _coded_layer(
    coded: TableClause,
    geom: ColumnElement[Any],
    source: FromClause,
    visible: Callable[[], ColumnElement[bool]],
    properties: dict[str, ColumnElement[Any]],
    queryables: tuple[str, ...],
) -> _Layer:
    """A timeless layer of lon/lat geometries (`geom`, a column of `coded`), published by
    their code."""
    return _Layer(
        key=coded.c.id,
        fid=coded.c.code,
        table=coded,
        source=source,
        visible=visible,
        geometry=_geojson(geom, _POLYGON_DECIMALS),
        in_bbox=lambda bbox: func.ST_Intersects(geom, _envelope(bbox)),
        created=None,
        properties=properties,
        bounds=func.ST_SetSRID(func.ST_Extent(geom), STORAGE_SRID),
        queryables=queryables,
    )


_CELLS = _coded_layer(
    _cells,
    _cells.c.boundary,
    _cells.join(_communities, _communities.c.id == _cells.c.community_id),
    GridCell.in_force,
    {
        "code": _cells.c.code,
        "name": _cells.c.name,
        "community_code": _communities.c.code,
        "community_name": _communities.c.name,
    },
    ("code", "community_code"),
)

_REGIONS = _coded_layer(
    _regions,
    _regions.c.boundary,
    _regions.outerjoin(_parents, _parents.c.id == _regions.c.parent_id),
    _always,
    {
        "code": _regions.c.code,
        "name": _regions.c.name,
        "level": _regions.c.level,
        "parent_code": _parents.c.code,
    },
    ("code", "level", "parent_code"),
)

_INCIDENTS = _Layer(
    key=_incidents.c.id,
    fid=_incidents.c.tracking_number,
    table=_incidents,
    source=_incidents.join(_categories, _categories.c.code == _incidents.c.category_code),
    visible=_report_is_public,
    geometry=_geojson(
        func.ST_Transform(_incidents.c.public_point_3857, STORAGE_SRID), _POINT_DECIMALS
    ),
    in_bbox=_report_in_bbox,
    created=_incidents.c.created_at,
    properties={
        "tracking_number": _incidents.c.tracking_number,
        "category": _incidents.c.category_code,
        "category_zh": _categories.c.label_zh,
        "category_en": _categories.c.label_en,
        "tier": _categories.c.tier,
        "status": _incidents.c.status,
        "created_at": _incidents.c.created_at,
        "resolved_at": _incidents.c.resolved_at,
        "closed_at": _incidents.c.closed_at,
    },
    # Aggregate the Mercator points (no per-row transform), then transform the one box:
    # a Mercator rectangle is a lon/lat rectangle.
    bounds=func.ST_Transform(
        func.ST_SetSRID(func.ST_Extent(_incidents.c.public_point_3857), WEB_MERCATOR_SRID),
        STORAGE_SRID,
    ),
    queryables=("status", "category", "tier"),
)

# City assets (部件): public objects; removed ones are left out. Points in lon/lat.
_ASSETS = _coded_layer(
    _assets,
    _assets.c.location,
    _assets,
    lambda: _assets.c.status != "removed",
    {
        "code": _assets.c.code,
        "kind": _assets.c.kind,
        "status": _assets.c.status,
        "name": _assets.c.name,
    },
    ("code", "kind", "status"),
)

COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in (
        Collection(
            "assets",
            "城市部件",
            "City assets",
            "消火栓、灭火器箱、电动自行车充电桩、井盖、路灯：16 位部件编码、类型、状态、名称；"
            "已撤除的不显示。",
            "Fire hydrants, extinguisher cabinets, e-bike charging points, manhole covers and "
            "street lights: 16-digit code, kind, status and name; removed ones left out.",
            "Point",
            _ASSETS,
            r"[0-9]{16}",
        ),
        Collection(
            "cells",
            "网格",
            "Grid cells",
            "现行网格边界：网格编码、名称及所属社区；不含网格员信息。",
            "Grid cells in force: code, name and community; no worker details.",
            "MultiPolygon",
            _CELLS,
            r"[0-9]{15}",
        ),
        Collection(
            "incidents",
            "隐患上报（公开位置）",
            "Hazard reports (public places)",
            "公开地图上的上报：编号、类别、状态、时间，位置按类别粗化（楼栋或网格）；"
            "不含描述、上报人或处理人。已驳回、重复的不显示，已办结的显示 "
            f"{RECENTLY_CLOSED_DAYS} 天。datetime 按上报时间筛选。",
            "The public map's reports: tracking number, category, status and times, at a "
            "place coarsened per category (building or cell); no description, reporter or "
            "handler. Rejected and duplicate reports are left out, closed ones shown for "
            f"{RECENTLY_CLOSED_DAYS} days. datetime filters on the time reported.",
            "Point",
            _INCIDENTS,
            r"[0-9]{6}-[0-9A-Z]{8}",
        ),
        Collection(
            "regions",
            "行政区划",
            "Administrative regions",
            "市、区、街道、社区：代码、名称、级别及上级代码。",
            "City, districts, streets and communities: code, name, level and parent code.",
            "MultiPolygon",
            _REGIONS,
            r"[0-9]{6}([0-9]{3}){0,2}",
        ),
    )
}


def _filters(layer: _Layer, query: ItemQuery) -> list[ColumnElement[bool]]:
    """The conditions every match meets (the cursor aside); a timeless layer has no time
    to filter on."""
    conditions = [layer.visible()]
    if query.bbox is not None:
        conditions.append(or_(*(layer.in_bbox(box) for box in query.bbox)))
    for name, value in query.equals:
        if name not in layer.queryables:  # the route checks; never an unlisted column
            raise ValueError(f"{name} is not queryable")
        conditions.append(layer.properties[name] == value)
    if layer.created is not None and query.start is not None:
        conditions.append(layer.created >= query.start)
    if layer.created is not None and query.end is not None:
        conditions.append(layer.created < query.end)
    return conditions


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _feature(layer: _Layer, row: Any) -> dict[str, Any]:
    properties = {name: _json_value(row[name]) for name in layer.properties}
    return {
        "type": "Feature",
        "id": row["fid"],
        "geometry": row["geometry"],
        "properties": properties,
    }


def _columns(layer: _Layer) -> list[ColumnElement[Any]]:
    return [
        layer.key.label("key"),
        layer.fid.label("fid"),
        layer.geometry.label("geometry"),
        *(expr.label(name) for name, expr in layer.properties.items()),
    ]


async def item_page(session: AsyncSession, collection: Collection, query: ItemQuery) -> Page:
    """Up to `query.limit` features after the cursor, ordered by id; with `count`, the
    exact number of matches when there are at most COUNT_LIMIT, counted in the same
    statement (so the same snapshot)."""
    layer = collection.layer
    conditions = _filters(layer, query)
    columns = _columns(layer)
    limit = COUNT_LIMIT
    if query.count:
        # Over the joined source: a filter may name a joined table's column. One row past
        # the limit says "more", so the count reads at most limit + 1 matches.
        capped = (
            select(layer.key)
            .select_from(layer.source)
            .where(*conditions)
            .limit(limit + 1)
            .subquery()
        )
        matched = select(func.count()).select_from(capped)
        columns.append(matched.scalar_subquery().label("matched"))
    statement: Select[Any] = select(*columns).select_from(layer.source).where(*conditions)
    if query.after is not None:
        statement = statement.where(layer.key > query.after)
    statement = statement.order_by(layer.key).limit(query.limit + 1)
    rows = (await session.execute(statement)).mappings().all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    matched_count = (rows[0]["matched"] if rows else 0) if query.count else None
    if matched_count is not None and matched_count > limit:
        matched_count = None
    return Page(
        features=[_feature(layer, row) for row in rows],
        last_id=rows[-1]["key"] if more else None,
        number_matched=matched_count,
    )


def feature_schema(collection: Collection) -> dict[str, Any]:
    """A JSON Schema of the collection's features, so clients type each field (a time
    stays a date-time even when the first page holds only nulls)."""
    fields = {
        name: {"type": "string", "format": "date-time"}
        if isinstance(expr.type, DateTime)
        else {"type": "string"}
        for name, expr in collection.layer.properties.items()
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "title": collection.title_en,
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": {
                "type": "object",
                "format": f"geometry-{collection.geometry_type.lower()}",
            },
            "properties": {"type": "object", "properties": fields},
        },
    }


def queryables_schema(collection: Collection) -> dict[str, Any]:
    """The properties a collection filters on (OGC API Features Part 3's queryables, a
    JSON Schema): each is also a query parameter of its items, equal to the value."""
    properties = {name: {"type": "string", "title": name} for name in collection.layer.queryables}
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "type": "object",
        "title": collection.title_en,
        "properties": properties,
        "additionalProperties": False,
    }


async def item(session: AsyncSession, collection: Collection, fid: str) -> dict[str, Any] | None:
    """One public feature by its public id (code or tracking number), or None."""
    if not re.fullmatch(collection.fid_pattern, fid):
        return None
    layer = collection.layer
    statement = (
        select(*_columns(layer)).select_from(layer.source).where(layer.visible(), layer.fid == fid)
    )
    row = (await session.execute(statement)).mappings().first()
    return None if row is None else _feature(layer, row)


async def extent(session: AsyncSession, collection: Collection) -> Extent:
    """The lon/lat extent of what the collection shows now (and its first report time)."""
    layer = collection.layer
    box = layer.bounds
    first = null() if layer.created is None else func.min(layer.created)
    statement = (
        select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box), first)
        .select_from(layer.table)
        .where(layer.visible())
    )
    *bounds, first_at = (await session.execute(statement)).one()
    bbox = None if bounds[0] is None else (bounds[0], bounds[1], bounds[2], bounds[3])
    return Extent(bbox=bbox, first=first_at)
