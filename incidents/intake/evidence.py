"""Photos as stored evidence: rows for a report, or for one step of its timeline."""

from __future__ import annotations

from incidents.intake.photos import Photo
from incidents.models.reports import IncidentPhoto


def photo_rows(
    incident_id: int, photos: list[Photo], event_id: int | None = None
) -> list[IncidentPhoto]:
    """One row per photo: the original for staff, the metadata-free copy and thumbnail
    for anyone else."""
    return [
        IncidentPhoto(
            incident_id=incident_id,
            event_id=event_id,
            sha256=p.sha256,
            media_type=p.media_type,
            width=p.width,
            height=p.height,
            original=p.original,
            public_copy=p.public,
            thumbnail=p.thumbnail,
            taken_at=p.taken_at,
        )
        for p in photos
    ]
