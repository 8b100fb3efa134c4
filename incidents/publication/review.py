"""Staff review before publication: what a reporter wrote reaches public pages only once
a manager approved it, with phone and ID numbers masked automatically (incidents/
redaction.py); photos only once published one by one, and only their metadata-free
copies. Staff read the proposed masking and may edit the text; an edit is masked again.

The handler's result note (what was done, on the resolving step) is published the same
way: a reviewer approves or rejects it (`result_decision`), and it is shown masked.

Reviewers are managers (and admins) whose area holds the report, except its assignee
and its handler: the worker (or manager) whose handling the report is about does not
decide what the public reads about it, as the handler does not verify their own work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import commits
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from grid.access import Principal, manager_over
from grid.roles import MANAGER_ROLES
from incidents.handling.actions import locked_incident, visible_incident
from incidents.lifecycle import ACTIONS
from incidents.publication.redaction import personal_numbers, redact
from incidents.timeline import record_event

MAX_QUEUE_PAGE = 100

# The resolving step is the transition `resolve` makes: its note is the handler's result
# and its photos show the work done (整改后); every other photo shows the hazard as found
# (整改前). The result stands while the report is where resolving or closing left it.
RESOLVING = ACTIONS["resolve"].target
_RESULT_PARAMS = {
    "resolving": RESOLVING,
    "result_stands": sorted({RESOLVING, ACTIONS["close"].target}),
}


def photo_stage(step_status: str | None) -> Literal["before", "after"]:
    """整改前 or 整改后 for a photo taken on a step to `step_status` (None: none)."""
    return "after" if step_status == RESOLVING else "before"


# The last resolving step of report `i` (a LATERAL), and the latest result review after
# it, as `res`: 'approved', 'rejected' or NULL (none yet, or resolved again since).
# Bound: _RESULT_PARAMS.
_LAST_RESOLVING = """
    SELECT e.id, e.note FROM incident_events e
    WHERE e.incident_id = i.id AND e.kind = 'transition' AND e.to_status = :resolving
    ORDER BY e.id DESC LIMIT 1
"""
_RESULT_DECIDED = """(
    SELECT v.data ->> 'result' FROM incident_events v
    WHERE v.incident_id = i.id AND v.kind = 'review' AND v.data ? 'result' AND v.id > res.id
    ORDER BY v.id DESC LIMIT 1)"""


# --- who reviews --------------------------------------------------------------------------


def may_review(principal: Principal, row: Any) -> bool:
    """A manager over the report who neither holds nor handled it."""
    return manager_over(principal, row.region_path) and principal.id not in (
        row.assignee_id,
        row.handler_id,
    )


def _refuse(principal: Principal, row: Any) -> PermissionDenied:
    if not manager_over(principal, row.region_path):  # workers and residents never are
        return PermissionDenied(
            "only managers over the report review what is published",
            "只有辖区管理人员可以审核公开内容",
        )
    return PermissionDenied(
        "the report's assignee or handler may not review its publication",
        "上报的处理人不能审核其公开内容",
    )


# --- the review ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewRequest:
    """A decision on the text (`text` is the staff's edit, with approve only) and photos
    to publish or withdraw; at least one of them."""

    text_decision: Literal["approve", "reject"] | None = None
    text: str | None = None
    reason: str | None = None
    publish_photos: tuple[int, ...] = ()
    unpublish_photos: tuple[int, ...] = ()
    result_decision: Literal["approve", "reject"] | None = None


def _check(request: ReviewRequest) -> None:
    """422 naming the field of a request that cannot be carried out as asked."""
    if request.text is not None and request.text_decision != "approve":
        raise InvalidInput(
            "an edited text goes with text_decision 'approve'",
            "修改后的文字只能随“通过”一并提交",
            field="text",
        )
    if request.text is not None and not request.text.strip():
        raise InvalidInput(
            "the edited text is empty; reject the text instead",
            "修改后的文字为空，如不公开请选择“不通过”",
            field="text",
        )
    if not (
        request.text_decision
        or request.result_decision
        or request.publish_photos
        or request.unpublish_photos
    ):
        raise InvalidInput(
            "nothing to review: give text_decision, result_decision or photos",
            "请给出文字审核结果或要公开/撤下的照片",
            field="text_decision",
        )
    both = set(request.publish_photos) & set(request.unpublish_photos)
    if both:
        raise InvalidInput(
            f"photo {min(both)} is both published and withdrawn",
            f"照片 {min(both)} 不能同时公开和撤下",
            field="unpublish_photos",
        )


_TEXT = text("SELECT description, text_review FROM incidents WHERE id = :id")

_SET_TEXT = text("""
    UPDATE incidents SET text_review = :state, published_description = :published,
                         text_reviewed_by_id = :actor_id, text_reviewed_at = :now
    WHERE id = :id
""")

_PHOTO_IDS = text("""
    SELECT id FROM incident_photos WHERE incident_id = :id AND id = ANY(:ids)
""")

_SET_PHOTOS = text("""
    UPDATE incident_photos SET approved_public = :published, reviewed_at = :now,
                               reviewed_by_id = :actor_id
    WHERE incident_id = :id AND id = ANY(:ids)
""")


async def _check_photos(
    session: AsyncSession, incident_id: int, field: str, ids: tuple[int, ...]
) -> None:
    """422 naming the first photo id that is not one of this report's."""
    if not ids:
        return
    found = set(
        (await session.execute(_PHOTO_IDS, {"id": incident_id, "ids": list(ids)})).scalars()
    )
    for i, photo_id in enumerate(ids):
        if photo_id not in found:
            raise InvalidInput(
                f"no photo {photo_id} on this report",
                f"该上报没有照片 {photo_id}",
                field=f"{field}[{i}]",
            )


async def _decide_text(
    session: AsyncSession,
    incident_id: int,
    request: ReviewRequest,
    principal: Principal,
    now: datetime,
) -> dict[str, Any]:
    """Approve (the masked text, or the staff's masked edit) or reject the text."""
    row = (await session.execute(_TEXT, {"id": incident_id})).one()
    if row.text_review == "none":
        raise Conflict("the report has no text to review", "该上报没有需要审核的文字")
    approve = request.text_decision == "approve"
    source = (request.text if request.text is not None else row.description).strip()
    await session.execute(
        _SET_TEXT,
        {
            "id": incident_id,
            "now": now,
            "actor_id": principal.id,
            "published": redact(source) if approve else None,
            "state": "approved" if approve else "rejected",
        },
    )
    return {
        "text": "approved" if approve else "rejected",
        "edited": request.text is not None,
        "masked": len(personal_numbers(source)) if approve else 0,
    }


# The result a reviewer publishes: the last resolving step's note while the report is
# resolved or closed, and its review (incidents/publication/views.py shows it once approved).
_RESULT = text(f"""
    SELECT res.note, {_RESULT_DECIDED} AS decided
    FROM incidents i CROSS JOIN LATERAL ({_LAST_RESOLVING}) res
    WHERE i.id = :id AND i.status = ANY(:result_stands)
""")


async def result_review(session: AsyncSession, incident_id: int) -> tuple[str | None, str]:
    """The handler's result note (None when there is none, or it says nothing) and its
    review: 'none' (no note), 'pending', 'approved' or 'rejected'."""
    row = (await session.execute(_RESULT, {"id": incident_id, **_RESULT_PARAMS})).first()
    if row is None or not (row.note and row.note.strip()):
        return None, "none"
    return row.note, row.decided or "pending"


async def published_result(session: AsyncSession, incident_id: int) -> str | None:
    """The result note as the public reads it: masked, and only once approved."""
    note, state = await result_review(session, incident_id)
    return redact(note.strip()) if note is not None and state == "approved" else None


@commits
async def review(
    session: AsyncSession,
    principal: Principal,
    tracking_number: str,
    request: ReviewRequest,
    now: datetime,
) -> dict[str, Any]:
    """Carry out a review, committed, recorded on the timeline;
    404 outside the caller's sight, 403 for those who may not review it."""
    row = await locked_incident(session, principal, tracking_number, now)
    if not may_review(principal, row):
        raise _refuse(principal, row)
    _check(request)
    await _check_photos(session, row.id, "publish_photos", request.publish_photos)
    await _check_photos(session, row.id, "unpublish_photos", request.unpublish_photos)
    data: dict[str, Any] = {}
    if request.text_decision:
        data |= await _decide_text(session, row.id, request, principal, now)
    if request.result_decision:
        if (await result_review(session, row.id))[0] is None:
            raise Conflict(
                "the report has no result note to review (resolve it first)",
                "该上报没有需要审核的处理结果",
            )
        data["result"] = "approved" if request.result_decision == "approve" else "rejected"
    for ids, published in ((request.publish_photos, True), (request.unpublish_photos, False)):
        if ids:
            await session.execute(
                _SET_PHOTOS,
                {
                    "id": row.id,
                    "ids": list(ids),
                    "now": now,
                    "published": published,
                    "actor_id": principal.id,
                },
            )
    data |= {
        "published_photos": sorted(set(request.publish_photos)),
        "unpublished_photos": sorted(set(request.unpublish_photos)),
    }
    # Public, so the reporter sees that their text was (or was not) published; the reviewer
    # is on the staff timeline only (the public one never names anyone).
    await record_event(
        session,
        row.id,
        "review",
        principal.id,
        principal.role.value,
        now,
        note=request.reason,
        public=True,
        data=data,
    )
    return await publication_state(session, principal, tracking_number, now)


# --- what staff read: the queue and one report's publication --------------------------

# Reports waiting for a reviewer: a pending text, an unreviewed photo, or a result note
# of the last resolving step with no result review after it (resolved in the last
# RESULT_QUEUE_DAYS days: an older one left unreviewed stays unpublished, the safe side).
_QUEUE = text(f"""
    WITH candidates AS (
        SELECT id FROM incidents WHERE text_review = 'pending'
        UNION SELECT incident_id FROM incident_photos WHERE reviewed_at IS NULL
        UNION SELECT incident_id FROM incident_events
              WHERE kind = 'transition' AND to_status = :resolving AND at >= :result_since
                AND btrim(coalesce(note, '')) <> ''
    ), queued AS (
        SELECT i.id, i.tracking_number, i.status, i.category_code, k.label_zh, k.label_en,
               c.code AS cell_code, i.created_at, i.text_review, i.description,
               ARRAY(SELECT p.id FROM incident_photos p
                     WHERE p.incident_id = i.id AND p.reviewed_at IS NULL ORDER BY p.id)
                   AS photos_pending,
               CASE WHEN i.status = ANY(:result_stands) AND {_RESULT_DECIDED} IS NULL
                    THEN nullif(btrim(res.note), '') END AS result_pending
        FROM incidents i
        JOIN incident_categories k ON k.code = i.category_code
        LEFT JOIN grid_cells c ON c.id = i.cell_id
        LEFT JOIN LATERAL ({_LAST_RESOLVING}) res ON true
        WHERE i.id IN (SELECT id FROM candidates)
          AND (CAST(:area AS text) IS NULL OR i.region_id IN (
                   SELECT id FROM regions WHERE path LIKE CAST(:area AS text) || '%'))
          AND i.assignee_id IS DISTINCT FROM :me AND i.handler_id IS DISTINCT FROM :me
          AND i.id > :after
    )
    SELECT * FROM queued
    WHERE text_review = 'pending' OR cardinality(photos_pending) > 0
       OR result_pending IS NOT NULL
    ORDER BY id
    LIMIT :limit
""")
RESULT_QUEUE_DAYS = 90


def staff_photo_url(tracking_number: str, photo_id: int) -> str:
    """Where staff read a photo (GET, any copy)."""
    return f"/incidents/{tracking_number}/photos/{photo_id}"


def public_photo_url(tracking_number: str, photo_id: int) -> str:
    """Where anyone reads a published photo's metadata-free copy (404 unless published)."""
    return f"/reports/{tracking_number}/photos/{photo_id}"


async def review_queue(
    session: AsyncSession, principal: Principal, *, after: int = 0, limit: int = 50
) -> dict[str, Any]:
    """Reports in the manager's area whose text or photos wait for review, oldest first,
    with the proposed (masked) text; the caller's own assigned or handled reports are
    left out (they may not review them). `next` pages on."""
    if principal.role not in MANAGER_ROLES:
        raise PermissionDenied("the review queue is for managers", "审核队列仅供管理人员使用")
    if not principal.is_admin and principal.region_path is None:
        return {"items": [], "next": None}
    limit = max(1, min(limit, MAX_QUEUE_PAGE))
    rows = (
        (
            await session.execute(
                _QUEUE,
                {
                    "area": None if principal.is_admin else principal.region_path,
                    "me": principal.id,
                    "after": after,
                    "limit": limit + 1,
                    "result_since": datetime.now(UTC) - timedelta(days=RESULT_QUEUE_DAYS),
                    **_RESULT_PARAMS,
                },
            )
        )
        .mappings()
        .all()
    )
    items = [
        {
            "tracking_number": r["tracking_number"],
            "status": r["status"],
            "category": {
                "code": r["category_code"],
                "label_zh": r["label_zh"],
                "label_en": r["label_en"],
            },
            "cell_code": r["cell_code"],
            "created_at": r["created_at"].isoformat(),
            "text_review": r["text_review"],
            "description": r["description"],
            "proposed_text": redact(r["description"].strip())
            if r["text_review"] == "pending"
            else None,
            "photos_pending": [
                {"id": p, "url": staff_photo_url(r["tracking_number"], p)}
                for p in r["photos_pending"]
            ],
            # The handler's result note waiting for review, and as it would be published.
            "result_note": r["result_pending"],
            "proposed_result": r["result_pending"] and redact(r["result_pending"]),
        }
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return {"items": items, "next": rows[limit - 1]["id"] if more else None}


_STATE = text("""
    SELECT i.description, i.text_review, i.published_description, i.text_reviewed_at,
           u.username AS text_reviewed_by
    FROM incidents i LEFT JOIN users u ON u.id = i.text_reviewed_by_id
    WHERE i.id = :id
""")

_PHOTOS = text("""
    SELECT p.id, p.media_type, p.width, p.height, p.taken_at, p.created_at,
           p.approved_public, p.reviewed_at, u.username AS reviewed_by, e.kind AS step
    FROM incident_photos p
    LEFT JOIN users u ON u.id = p.reviewed_by_id
    LEFT JOIN incident_events e ON e.id = p.event_id
    WHERE p.incident_id = :id ORDER BY p.id
""")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def publication_state(
    session: AsyncSession, principal: Principal, tracking_number: str, now: datetime
) -> dict[str, Any]:
    """A report's publication as staff who can see it read it: the original text, the
    proposed masking, what is published and by whom, every photo and its state."""
    row = await visible_incident(session, principal, tracking_number, now)
    state = (await session.execute(_STATE, {"id": row.id})).mappings().one()
    photos = (await session.execute(_PHOTOS, {"id": row.id})).mappings().all()
    description = state["description"]
    note, note_review = await result_review(session, row.id)
    return {
        "tracking_number": row.tracking_number,
        "may_review": may_review(principal, row),
        "text_review": state["text_review"],
        "description": description,
        "proposed_text": redact(description.strip()) if state["text_review"] != "none" else None,
        "published_description": state["published_description"],
        "text_reviewed_by": state["text_reviewed_by"],
        "text_reviewed_at": _iso(state["text_reviewed_at"]),
        # The handler's result note: as written, masked as it would be published, and
        # its review ('none', 'pending', 'approved', 'rejected').
        "result_note": note,
        "proposed_result": note and redact(note.strip()),
        "result_review": note_review,
        "photos": [
            {
                "id": p["id"],
                "media_type": p["media_type"],
                "width": p["width"],
                "height": p["height"],
                "taken_at": _iso(p["taken_at"]),
                "uploaded_at": _iso(p["created_at"]),
                "step": p["step"],
                "published": p["approved_public"],
                "reviewed_at": _iso(p["reviewed_at"]),
                "reviewed_by": p["reviewed_by"],
                "url": staff_photo_url(row.tracking_number, p["id"]),
            }
            for p in photos
        ],
    }


# --- photo bytes --------------------------------------------------------------------------

PhotoCopy = Literal["original", "public", "thumbnail"]
THUMBNAIL_TYPE = "image/jpeg"

_PUBLISHED_PHOTO = text("""
    SELECT CASE WHEN :thumbnail THEN p.thumbnail ELSE p.public_copy END AS data,
           p.media_type
    FROM incident_photos p JOIN incidents i ON i.id = p.incident_id
    WHERE i.tracking_number = :t AND p.id = :pid AND p.approved_public
""")

_STAFF_PHOTO = text("""
    SELECT CASE :copy WHEN 'original' THEN p.original WHEN 'public' THEN p.public_copy
                ELSE p.thumbnail END AS data,
           p.media_type
    FROM incident_photos p WHERE p.incident_id = :id AND p.id = :pid
""")


def _no_photo(photo_id: int) -> NotFound:
    return NotFound(f"no published photo {photo_id}", f"没有已公开的照片 {photo_id}")


async def published_photo(
    session: AsyncSession, tracking_number: str, photo_id: int, *, thumbnail: bool = False
) -> tuple[bytes, str]:
    """A published photo's metadata-free copy (or thumbnail) and its media type; 404
    for a photo not published (or not of this report), as for one that does not exist."""
    row = (
        await session.execute(
            _PUBLISHED_PHOTO, {"t": tracking_number, "pid": photo_id, "thumbnail": thumbnail}
        )
    ).first()
    if row is None:
        raise _no_photo(photo_id)
    return row.data, THUMBNAIL_TYPE if thumbnail else row.media_type


async def staff_photo(
    session: AsyncSession,
    principal: Principal,
    tracking_number: str,
    photo_id: int,
    copy: PhotoCopy,
    now: datetime,
) -> tuple[bytes, str]:
    """Any photo of a report the caller can see (the original keeps its EXIF: evidence)."""
    row = await visible_incident(session, principal, tracking_number, now)
    found = (
        await session.execute(_STAFF_PHOTO, {"id": row.id, "pid": photo_id, "copy": copy})
    ).first()
    if found is None:
        raise NotFound(f"no photo {photo_id} on this report", f"该上报没有照片 {photo_id}")
    return found.data, THUMBNAIL_TYPE if copy == "thumbnail" else found.media_type
