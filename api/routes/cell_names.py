"""Admins rename a grid cell (翠竹社区第1网格 → a name people use), audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api.abuse import audit_actor
from api.deps import AdminPrincipal, SessionDep
from grid.cell_names import NAME_MAX, rename_cell

router = APIRouter(prefix="/cells", tags=["register"])

CellCode = Annotated[str, Path(pattern=r"^[0-9]{15}$", description="15-digit grid cell code")]


class CellNameIn(BaseModel):
    """The cell's new name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description=f"1-{NAME_MAX} printable characters (trimmed)", examples=["翠竹社区东区网格"]
    )


class CellNameOut(BaseModel):
    """The cell's name now and before."""

    code: str
    name: str
    previous_name: str


@router.patch("/{code}", response_model=CellNameOut)
async def rename(
    code: CellCode,
    body: CellNameIn,
    request: Request,
    session: SessionDep,
    principal: AdminPrincipal,
) -> dict[str, Any]:
    """Rename the cell in force with this code (admins); the audit log keeps the old
    and new names. Drafts keep their own names until activated."""
    renamed = await rename_cell(session, code, body.name, audit_actor(request, principal))
    return renamed
