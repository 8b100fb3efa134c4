"""Fuzzy address search over the register's buildings (pg_trgm, Chinese text)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput

MIN_QUERY_CHARS = 2
MAX_QUERY_CHARS = 100
# Below this word similarity a building is not a plausible match for what was typed.
MIN_WORD_SIMILARITY = 0.3
# A building that does not hold every part typed stands for an address only from this
# word similarity up (and with every number typed): the one threshold for every channel
# that files on an address unattended (Open311, 12345). Below it the address is refused,
# not guessed: a wrong building sends the report to the wrong worker. A typo in a full
# address (…测试区先列路165号) passes; 火星第一大道 99999 号 never does.
MIN_ADDRESS_CONFIDENCE = 0.6

# A building matches when its address contains every token typed ("明珠 先烈路 165"
# finds 示范市明珠区先烈路165号), or resembles the query by trigram word similarity
# (a wrong or missing character). Token hits rank first, then similarity, then how
# many of the typed characters the address holds (a homophone typo such as 先列路 for
# 先烈路 still shares 先 and 路), then shorter addresses (less noise), then distance
# to `near` when given. ILIKE and `<%`
# both use the GIN trigram index.
_SEARCH = text("""
    SELECT b.id, b.address, b.use, b.floors, c.code AS cell_code,
           ST_X(p.pt) AS lon, ST_Y(p.pt) AS lat,
           word_similarity(:q, b.address) AS score,
           b.address ILIKE ALL(:patterns) AS contains
    FROM buildings b
    LEFT JOIN grid_cells c ON c.id = b.cell_id
    CROSS JOIN LATERAL (SELECT ST_PointOnSurface(b.footprint) AS pt) p
    WHERE b.address ILIKE ALL(:patterns) OR :q <% b.address
    ORDER BY contains DESC, score DESC,
             (SELECT count(*) FROM unnest(string_to_array(:q, NULL)) AS ch
              WHERE strpos(b.address, ch) > 0) DESC,
             CASE WHEN CAST(:near_lon AS float8) IS NULL THEN 0
                  ELSE ST_Distance(p.pt, ST_SetSRID(ST_MakePoint(:near_lon, :near_lat), 4326))
             END,
             length(b.address), b.id
    LIMIT :limit
""")


@dataclass(frozen=True)
class AddressHit:
    """One building matching an address query, with a point to drop a pin on."""

    building_id: int
    address: str
    use: str
    floors: int
    cell_code: str | None
    lon: float
    lat: float
    score: float
    contains: bool


# Tokens: runs of digits, runs of anything else; whitespace separates too.
_TOKEN = re.compile(r"[0-9]+|[^0-9\s]+")
_NUMBER = re.compile(r"[0-9]+")
# A building within a house number (长江路83号2栋, 5幢, 3座, 2号楼).
_BUILDING_NUMBER = re.compile(r"([0-9]+)\s*(?:栋|幢|座|号楼)")
# The parts of an address a building of the register carries, longest first: up to the
# building number (…83号2栋), then up to the house number (…83号); what follows (楼下,
# 502 室) names no building.
_UP_TO_BUILDING = re.compile(r"^.*?[0-9]+\s*号.*?[0-9]+\s*(?:栋|幢|座|号楼)")
_UP_TO_HOUSE = re.compile(r"^.*?[0-9]+\s*号")


def building_number(address: str) -> str | None:
    """The building number an address names (2 in 长江路83号2栋), if any."""
    found = _BUILDING_NUMBER.search(unicodedata.normalize("NFKC", address))
    return (found.group(1).lstrip("0") or "0") if found else None


def address_queries(raw: str) -> list[str]:
    """What to search for an address, most specific first: as typed, then cut after the
    building number, then after the house number."""
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    queries = [text]
    for part in (_UP_TO_BUILDING, _UP_TO_HOUSE):
        if (found := part.match(text)) and found.group(0) not in queries:
            queries.append(found.group(0))
    return queries


def address_fits(query: str, hit: AddressHit, building: str | None = None) -> bool:
    """Whether a building can be the one meant: it holds every number typed (166号 or
    65号 is not 165号, however alike they look), and a building number given (`building`,
    else the query's own) is its building number when it names one (83号2栋 is not
    83号4栋)."""
    typed = unicodedata.normalize("NFKC", query)
    if not set(_NUMBER.findall(typed)) <= set(_NUMBER.findall(hit.address)):
        return False
    given = building or building_number(typed)
    own = building_number(hit.address)
    return given is None or own is None or given == own


def confident(query: str, hit: AddressHit, building: str | None = None) -> bool:
    """Whether a hit may stand for the address unattended: it fits, and it holds every
    part typed or is at least MIN_ADDRESS_CONFIDENCE similar."""
    return address_fits(query, hit, building) and (
        hit.contains or hit.score >= MIN_ADDRESS_CONFIDENCE
    )


def normalise_query(raw: str) -> str:
    """Full-width to half-width (NFKC), single spaces: how addresses are compared."""
    query = " ".join(unicodedata.normalize("NFKC", raw).split())
    if len(query) < MIN_QUERY_CHARS:
        raise InvalidInput(
            f"type at least {MIN_QUERY_CHARS} characters of the address",
            f"请至少输入 {MIN_QUERY_CHARS} 个字",
            field="q",
        )
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"an address query has at most {MAX_QUERY_CHARS} characters",
            f"地址查询最多 {MAX_QUERY_CHARS} 个字",
            field="q",
        )
    return query


def _like_patterns(query: str) -> list[str]:
    """One ILIKE pattern per token, wildcards in the input escaped."""

    def escape(token: str) -> str:
        return token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

    return [f"%{escape(t)}%" for t in _TOKEN.findall(query)]


async def search_addresses(
    session: AsyncSession,
    raw_query: str,
    limit: int = 10,
    near: tuple[float, float] | None = None,
) -> list[AddressHit]:
    """Buildings whose address contains or resembles the query, best first."""
    query = normalise_query(raw_query)
    # SET LOCAL keeps the threshold to this transaction (the pool reuses connections).
    await session.execute(
        text(f"SET LOCAL pg_trgm.word_similarity_threshold = {MIN_WORD_SIMILARITY}")
    )
    rows = await session.execute(
        _SEARCH,
        {
            "q": query.replace(" ", ""),
            "patterns": _like_patterns(query),
            "limit": limit,
            "near_lon": near and near[0],
            "near_lat": near and near[1],
        },
    )
    return [AddressHit(*row) for row in rows.all()]


async def confident_address(session: AsyncSession, raw: str) -> AddressHit | None:
    """The building an address names, when one fits it confidently (see `confident`),
    trying the whole address, then its building and house number; None otherwise."""
    given = building_number(raw)
    whole, *parts = address_queries(raw)
    for query in [whole, *parts]:
        try:
            hits = await search_addresses(session, query, limit=5)
        except InvalidInput:
            if query == whole:
                raise
            continue  # a part too short to search
        for hit in hits:
            if confident(query, hit, given):
                return hit
    return None
