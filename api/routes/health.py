"""Liveness and database readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import SessionDep
from core.errors import ServiceUnavailable

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(session: SessionDep) -> dict[str, str]:
    """200 with the PostGIS version when the database answers, else 503."""
    try:
        version = (await session.execute(text("SELECT postgis_lib_version()"))).scalar_one()
    except Exception as exc:  # any failure to reach the database means "not ready"
        raise ServiceUnavailable() from exc
    return {"status": "ok", "database": "ok", "postgis": version}
