"""Report categories: what a reporter may choose, with labels, tiers and questions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import SessionDep
from incidents.categories import active_categories

router = APIRouter(prefix="/categories", tags=["reports"])


@router.get("")
async def list_categories(session: SessionDep) -> dict[str, Any]:
    """Active categories in display order: fire hazards first (public)."""
    return {"categories": await active_categories(session)}
