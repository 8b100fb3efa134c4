"""Cell names (翠竹社区第1网格): the rule a name keeps, and an admin's rename of the cell
in force, recorded in the audit log.

Only the cell in force is renamed: a draft boundary version carries the names its own
import or drafting gave it, and activating it replaces the cell, name included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.audit import Actor
from core.database import commits
from core.errors import InvalidInput, NotFound
from grid.sql_fragments import cell_in_force

NAME_MAX = 100


def name_problem(name: object) -> str | None:
    """Why `name` cannot be a cell's name (1-100 printable characters once trimmed), or
    None when it can."""
    if not isinstance(name, str):
        return "a name is text"
    name = name.strip()
    if not name:
        return "a name is required"
    if len(name) > NAME_MAX:
        return f"longer than {NAME_MAX} characters"
    if not name.isprintable():  # control, bidi-override and zero-width characters
        return "holds characters that cannot be printed (control or format characters)"
    return None


def checked_name(name: object) -> str:
    """The trimmed name, or InvalidInput naming `name`."""
    problem = name_problem(name)
    if problem is not None:
        raise InvalidInput(f"name: {problem}", "网格名称须为 1–100 个可打印字符", field="name")
    return str(name).strip()


@commits
async def rename_cell(session: AsyncSession, code: str, name: str, actor: Actor) -> dict[str, Any]:
    """Rename the cell in force with this code and audit it, committed; NotFound for an
    unknown code. Renaming to the same name changes nothing."""
    name = checked_name(name)
    row = (
        await session.execute(
            text(
                f"SELECT id, name FROM grid_cells WHERE code = :code "
                f"AND {cell_in_force('')} FOR UPDATE"
            ),
            {"code": code},
        )
    ).first()
    if row is None:
        raise NotFound(f"No grid cell with code {code}", f"未找到网格 {code}")
    if row.name != name:
        await session.execute(
            text("UPDATE grid_cells SET name = :name WHERE id = :id"), {"name": name, "id": row.id}
        )
        await audit.record(
            session,
            "state_change",
            actor,
            "grid_cell",
            code,
            change="rename",
            cell_id=row.id,
            previous_name=row.name,
            name=name,
        )
    return {"code": code, "name": name, "previous_name": row.name}
