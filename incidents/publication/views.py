"""What the reporter and the public see of a report: status, category, coarse place, the
public timeline, and the text and photos staff approved for publication (masked text,
metadata-free photos); never names, phones or who handles or reviewed it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound, PermissionDenied
from gis.geometry import BBox
from incidents.intake.tracking import secret_matches
from incidents.lifecycle import OPEN as OPEN_STATUSES
from incidents.publication.review import (
    photo_stage,
    public_photo_url,
    published_result,
    staff_photo_url,
)

# The place shown in public, coarsened per category: public_point_3857, the one home of
# a report's public place (the trigger of migration 0009: the exact pin, the building's
# point-on-surface, else the pin rounded to ~100 m); for cell precision only the code.
_REPORT = text("""
    SELECT i.id, i.tracking_number, i.status, i.category_code, k.label_zh, k.label_en,
           k.tier, c.code AS cell_code, i.created_at, i.accept_due_at, i.resolve_due_at,
           i.resolved_at, i.closed_at, d.tracking_number AS follows,
           i.text_review, i.published_description, i.description, i.secret_hash,
           EXISTS (SELECT FROM ratings g WHERE g.incident_id = i.id AND g.kind = 'handling')
               AS rated,
           CASE WHEN k.public_precision <> 'cell'
               THEN ST_AsGeoJSON(ST_Transform(i.public_point_3857, 4326), 6)
           END AS place
    FROM incidents i
    JOIN incident_categories k ON k.code = i.category_code
    LEFT JOIN grid_cells c ON c.id = i.cell_id
    LEFT JOIN incidents d ON d.id = i.duplicate_of_id
    WHERE i.tracking_number = :t
""")

_TIMELINE = text("""
    SELECT kind, from_status, to_status, at, data FROM incident_events
    WHERE incident_id = :id AND public ORDER BY at, id
""")

# Published photos, each with the status of the step it was taken on (photo_stage: the
# resolving step's show the work done, 整改后; the others the hazard as found).
_PUBLISHED_PHOTOS = text("""
    SELECT p.id, e.to_status
    FROM incident_photos p LEFT JOIN incident_events e ON e.id = p.event_id
    WHERE p.incident_id = :id AND p.approved_public ORDER BY p.id
""")

# The reporter's own photos (those filed with the report), as thumbnails.
_OWN_PHOTOS = text("""
    SELECT id, encode(thumbnail, 'base64') AS thumbnail FROM incident_photos
    WHERE incident_id = :id AND event_id IS NULL ORDER BY id
""")


def _public_step(
    kind: str, src: str | None, dst: str | None, at: Any, data: dict[str, Any]
) -> dict[str, Any]:
    step = {"kind": kind, "from": src, "to": dst, "at": at.isoformat()}
    if kind == "review":
        # What was decided, never by whom.
        step["review"] = {
            "text": data.get("text"),
            "photos_published": len(data.get("published_photos", [])),
            "photos_withdrawn": len(data.get("unpublished_photos", [])),
        }
    return step


def _iso(value: Any) -> str | None:
    return value and value.isoformat()


def _published(number: str, photo_id: int) -> dict[str, Any]:
    return {
        "id": photo_id,
        "url": public_photo_url(number, photo_id),
        "thumbnail_url": public_photo_url(number, photo_id) + "/thumbnail",
    }


@dataclass(frozen=True)
class ReporterProof:
    """The reporter's proof on a public read: the secret from submission, checked with
    the intake's key. (Not an account: the secret is what the reporter was given for
    this report, and a public answer never depends on a session.)"""

    secret_key: str
    secret: str


@dataclass(frozen=True)
class CheckedReporter:
    """The reporter of one report, proven before the read another way: the last digits of
    the phone they gave (incidents/notify/following.py reporter_by_phone)."""

    incident_id: int


def _is_reporter(row: Any, proof: ReporterProof | CheckedReporter | None) -> bool:
    """True with the report's secret (or its checked reporter); 403 naming `secret` for a
    secret that is wrong."""
    if isinstance(proof, CheckedReporter):
        return proof.incident_id == row["id"]
    if proof is None or not proof.secret:
        return False
    if not secret_matches(proof.secret, row["secret_hash"], proof.secret_key):
        raise PermissionDenied(
            "the tracking secret does not match this report", "查询码与该上报不符", field="secret"
        )
    return True


async def _own(session: AsyncSession, row: Any) -> dict[str, Any]:
    """What only the reporter sees: their own text and photos, whatever the review."""
    photos = (await session.execute(_OWN_PHOTOS, {"id": row["id"]})).all()
    return {
        "description": row["description"],
        "photos": [
            {"id": pid, "thumbnail": "data:image/jpeg;base64," + thumbnail.replace("\n", "")}
            for pid, thumbnail in photos
        ],
    }


async def public_report(
    session: AsyncSession,
    tracking_number: str,
    proof: ReporterProof | CheckedReporter | None = None,
) -> dict[str, Any]:
    """A report by tracking number, as anyone holding the number may see it; with the
    reporter's proof also their own text and photos (`own`), else `own` is null."""
    row = (await session.execute(_REPORT, {"t": tracking_number})).mappings().first()
    if row is None:
        raise NotFound(f"no report {tracking_number}", f"未找到编号为 {tracking_number} 的上报")
    own = await _own(session, row) if _is_reporter(row, proof) else None
    events = (await session.execute(_TIMELINE, {"id": row["id"]})).all()
    photos = (await session.execute(_PUBLISHED_PHOTOS, {"id": row["id"]})).all()
    # What was done: the handler's note once a reviewer approved it (masked).
    note = await published_result(session, row["id"])
    number = row["tracking_number"]
    return {
        "tracking_number": row["tracking_number"],
        "status": row["status"],
        "category": {
            "code": row["category_code"],
            "label_zh": row["label_zh"],
            "label_en": row["label_en"],
            "tier": row["tier"],
        },
        "cell_code": row["cell_code"],
        "place": row["place"] and json.loads(row["place"]),
        "created_at": _iso(row["created_at"]),
        "accept_due_at": _iso(row["accept_due_at"]),
        "resolve_due_at": _iso(row["resolve_due_at"]),
        "resolved_at": _iso(row["resolved_at"]),
        "closed_at": _iso(row["closed_at"]),
        # A duplicate's reporter follows the earlier report from here on.
        "follows": row["follows"],
        # The reporter's text only as staff approved it (numbers masked); its review
        # state says whether it waits ('pending'), was withheld, or there is none.
        "description": row["published_description"] if row["text_review"] == "approved" else None,
        "description_review": row["text_review"],
        # Published photos only, as links to their metadata-free copies: the hazard as
        # reported or found here, the work done (整改后) under `result`.
        "photos": [
            _published(number, pid) for pid, step in photos if photo_stage(step) == "before"
        ],
        "result": {
            "note": note,
            "photos": [
                _published(number, pid) for pid, step in photos if photo_stage(step) == "after"
            ],
        },
        "own": own,
        # A handling rating exists (the reporter's, or the default after the period).
        "rated": row["rated"],
        "timeline": [_public_step(*event) for event in events],
    }


REPORTER_ROLES = {"resident", "reporter"}

_STAFF = text("""
    SELECT i.id, i.tracking_number, i.status, i.version, i.category_code,
           k.label_zh AS category_label_zh, k.label_en AS category_label_en, k.tier,
           i.description,
           i.answers, i.address, i.channel, i.routing_rule, i.responsible_level,
           ST_X(i.location) AS lon, ST_Y(i.location) AS lat, c.code AS cell_code,
           r.code AS region_code, a.username AS assignee, a.display_name AS assignee_name,
           i.text_review, i.published_description,
           i.reporter_name, i.reporter_phone, i.created_at, i.accept_due_at,
           i.resolve_due_at, i.accepted_at, i.resolved_at, i.closed_at, i.escalation_level,
           d.tracking_number AS duplicate_of
    FROM incidents i
    JOIN incident_categories k ON k.code = i.category_code
    LEFT JOIN grid_cells c ON c.id = i.cell_id
    LEFT JOIN regions r ON r.id = i.region_id
    LEFT JOIN users a ON a.id = i.assignee_id
    LEFT JOIN incidents d ON d.id = i.duplicate_of_id
    WHERE i.id = :id
""")

# Every photo, with the status of the step it was taken on (photo_stage: the resolving
# step's show the work done, 整改后; the report's own, check-ins and progress notes the
# hazard as found, 整改前).
_STAFF_PHOTOS = text("""
    SELECT p.id, p.approved_public, e.to_status
    FROM incident_photos p LEFT JOIN incident_events e ON e.id = p.event_id
    WHERE p.incident_id = :id ORDER BY p.id
""")

_STAFF_TIMELINE = text("""
    SELECT e.kind, e.from_status, e.to_status, e.note, e.at, u.username, e.actor_role
    FROM incident_events e LEFT JOIN users u ON u.id = e.actor_id
    WHERE e.incident_id = :id ORDER BY e.at, e.id
""")


async def staff_report(
    session: AsyncSession, incident_id: int, *, with_contact: bool
) -> dict[str, Any]:
    """An incident as staff see it: full place, answers, timeline with notes; the
    reporter's contact only when `with_contact` (the assignee, managers in scope)."""
    row = dict((await session.execute(_STAFF, {"id": incident_id})).mappings().one())
    events = (await session.execute(_STAFF_TIMELINE, {"id": incident_id})).all()
    photos = (await session.execute(_STAFF_PHOTOS, {"id": incident_id})).all()
    contact = {"name": row.pop("reporter_name"), "phone": row.pop("reporter_phone")}
    row.pop("id")
    for key in (
        "created_at",
        "accept_due_at",
        "resolve_due_at",
        "accepted_at",
        "resolved_at",
        "closed_at",
    ):
        row[key] = _iso(row[key])
    row["reporter_contact"] = contact if with_contact else None
    row["photos"] = [
        {
            "id": pid,
            "stage": photo_stage(step),
            "published": published,
            "url": staff_photo_url(row["tracking_number"], pid),
        }
        for pid, published, step in photos
    ]
    # Who reported is the reporter's identity: shown only to those who see the contact.
    row["timeline"] = [
        {
            "kind": kind,
            "from": src,
            "to": dst,
            "note": note,
            "at": at.isoformat(),
            "actor": username if with_contact or role not in REPORTER_ROLES else None,
            "actor_role": role,
        }
        for kind, src, dst, note, at, username, role in events
    ]
    return row


# Open incidents in a bbox with only public fields, at their public place: the point
# coarsened per category that the trigger keeps in public_point_3857 (as the vector
# tiles use). The bbox literal is transformed, never the column, so its GiST index
# answers the test; only the returned points are transformed back to lon/lat.
_OPEN_INCIDENTS = text("""
    SELECT i.status, i.category_code, k.label_zh, k.label_en, k.tier, i.created_at,
           ST_AsGeoJSON(ST_Transform(i.public_point_3857, 4326), 6) AS place
    FROM incidents i
    JOIN incident_categories k ON k.code = i.category_code
    WHERE i.public_point_3857 && ST_Transform(ST_MakeEnvelope(:w, :s, :e, :n, 4326), 3857)
      AND i.status = ANY(:statuses)
      AND (CAST(:category AS text) IS NULL OR i.category_code = :category)
    ORDER BY i.created_at DESC
    LIMIT :limit
""")
# Web Mercator ends short of the poles.
_MERCATOR_MAX_LAT = 85.05


async def public_open_incidents(
    session: AsyncSession, box: BBox, category: str | None, *, limit: int
) -> list[dict[str, Any]]:
    """Open hazards in a bbox for the public map as GeoJSON Features: status, category
    and the coarse public place only (no number, text, reporter or handler); newest
    first, at most `limit`."""
    rows = (
        (
            await session.execute(
                _OPEN_INCIDENTS,
                {
                    "statuses": list(OPEN_STATUSES),
                    "w": box.min_lon,
                    "s": max(box.min_lat, -_MERCATOR_MAX_LAT),
                    "e": box.max_lon,
                    "n": min(box.max_lat, _MERCATOR_MAX_LAT),
                    "category": category,
                    "limit": limit,
                },
            )
        )
        .mappings()
        .all()
    )
    return [
        {
            "type": "Feature",
            "geometry": json.loads(row["place"]),
            "properties": {
                "status": row["status"],
                "category": row["category_code"],
                "label_zh": row["label_zh"],
                "label_en": row["label_en"],
                "tier": row["tier"],
                "created_at": row["created_at"].isoformat(),
            },
        }
        for row in rows
    ]
