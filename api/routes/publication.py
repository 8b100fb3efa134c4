"""Staff review before publication over HTTP: the managers' review queue, one report's
publication state and the review action; photos for staff (any copy) and for the public
(published ones only, metadata-free)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ManagerPrincipal, SessionDep, StaffPrincipal
from api.routes.reports import TrackingNumber
from core.text_types import PlainTextOrNone
from incidents.intake.schemas import MAX_DESCRIPTION
from incidents.publication.review import (
    MAX_QUEUE_PAGE,
    PhotoCopy,
    ReviewRequest,
    publication_state,
    published_photo,
    review,
    review_queue,
    staff_photo,
)

router = APIRouter(tags=["publication"])

PhotoId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_PhotoIds = Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]], Field(max_length=50)]
# Publication can be withdrawn: neither browsers nor proxies may keep a copy.
_NO_STORE = {"Cache-Control": "no-store"}


class ReviewIn(BaseModel):
    """A review: approve (optionally with an edited text, masked again) or reject the
    report's text, and/or publish or withdraw photos by id."""

    model_config = ConfigDict(str_strip_whitespace=True)

    text_decision: Literal["approve", "reject"] | None = None
    text: PlainTextOrNone = Field(
        None, max_length=MAX_DESCRIPTION, description="the text to publish instead (approve only)"
    )
    reason: PlainTextOrNone = Field(
        None, max_length=2000, description="why (on the staff timeline only)"
    )
    publish_photos: _PhotoIds = []
    unpublish_photos: _PhotoIds = []
    result_decision: Literal["approve", "reject"] | None = Field(
        None, description="publish (masked) or withhold the handler's result note"
    )


@router.get("/review-queue")
async def queue(
    session: SessionDep,
    principal: ManagerPrincipal,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="`next` of the last page")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_QUEUE_PAGE)] = 50,
) -> dict[str, Any]:
    """Reports in my area whose text or photos wait for review, oldest first, with the
    original text and the proposed masked one (not my own assigned or handled reports)."""
    return await review_queue(session, principal, after=after, limit=limit)


@router.get("/incidents/{tracking_number}/publication")
async def publication(
    tracking_number: TrackingNumber, session: SessionDep, principal: StaffPrincipal
) -> dict[str, Any]:
    """What is published of a report and what waits: original and proposed text, every
    photo with its state, whether I may review it."""
    return await publication_state(session, principal, tracking_number, datetime.now(UTC))


@router.post("/incidents/{tracking_number}/review")
async def review_report(
    tracking_number: TrackingNumber,
    body: ReviewIn,
    session: SessionDep,
    principal: StaffPrincipal,
) -> dict[str, Any]:
    """Approve or reject the text (and the result note) and publish or withdraw photos:
    managers over the
    report who are not its assignee or handler; recorded on the timeline."""
    request = ReviewRequest(
        text_decision=body.text_decision,
        text=body.text,
        reason=body.reason,
        publish_photos=tuple(body.publish_photos),
        unpublish_photos=tuple(body.unpublish_photos),
        result_decision=body.result_decision,
    )
    result = await review(session, principal, tracking_number, request, datetime.now(UTC))
    return result


@router.get("/incidents/{tracking_number}/photos/{photo_id}", response_class=Response)
async def photo_for_staff(
    tracking_number: TrackingNumber,
    photo_id: PhotoId,
    session: SessionDep,
    principal: StaffPrincipal,
    copy: PhotoCopy = "original",
) -> Response:
    """A photo of a report I can see: the original (with its EXIF, as evidence), the
    public copy or the thumbnail."""
    data, media_type = await staff_photo(
        session, principal, tracking_number, photo_id, copy, datetime.now(UTC)
    )
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, no-store"})


@router.get("/reports/{tracking_number}/photos/{photo_id}", response_class=Response)
async def public_photo(
    tracking_number: TrackingNumber, photo_id: PhotoId, session: SessionDep
) -> Response:
    """A published photo, re-encoded without any metadata; 404 unless published."""
    data, media_type = await published_photo(session, tracking_number, photo_id)
    return Response(data, media_type=media_type, headers=_NO_STORE)


@router.get("/reports/{tracking_number}/photos/{photo_id}/thumbnail", response_class=Response)
async def public_thumbnail(
    tracking_number: TrackingNumber, photo_id: PhotoId, session: SessionDep
) -> Response:
    """A published photo's thumbnail (JPEG, no metadata); 404 unless published."""
    data, media_type = await published_photo(session, tracking_number, photo_id, thumbnail=True)
    return Response(data, media_type=media_type, headers=_NO_STORE)
