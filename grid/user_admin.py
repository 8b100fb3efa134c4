"""Account administration over a sync connection (CLI, demo loading)."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from core.errors import Conflict, InvalidInput
from grid.accounts import MIN_PASSWORD_LENGTH, hash_password
from grid.models import Region, User
from grid.roles import ROLE_REGION_LEVEL, Role

DEMO_PASSWORD = "gridgov-demo"
DEMO_USERNAMES = ("admin", "district", "street", "community", "worker", "resident")


def create_user(
    conn: Connection,
    *,
    username: str,
    role: str,
    password: str,
    display_name: str | None = None,
    region_code: str | None = None,
    phone: str | None = None,
) -> int:
    """Create an account after checking role, region level and password; returns its id."""
    username = username.strip().lower()
    role_ = Role(role)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters",
            f"密码至少 {MIN_PASSWORD_LENGTH} 位",
            field="password",
        )
    region_id = _region_for_role(conn, role_, region_code)
    if conn.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"username {username} is taken", f"用户名 {username} 已存在")
    return conn.execute(
        insert(User)
        .values(
            username=username,
            display_name=display_name or username,
            phone=phone,
            role=role_.value,
            region_id=region_id,
            password_hash=hash_password(password),
        )
        .returning(User.id)
    ).scalar_one()


def _region_for_role(conn: Connection, role: Role, region_code: str | None) -> int | None:
    level = ROLE_REGION_LEVEL.get(role)
    if level is None:
        if region_code:
            raise InvalidInput(
                f"role {role} is not bound to a region", f"角色 {role} 不绑定区划", field="region"
            )
        return None
    if not region_code:
        raise InvalidInput(
            f"role {role} needs a {level} region", f"角色 {role} 需要指定区划", field="region"
        )
    row = conn.execute(select(Region.id, Region.level).where(Region.code == region_code)).first()
    if row is None:
        raise InvalidInput(
            f"no region with code {region_code}", f"未找到区划 {region_code}", field="region"
        )
    if row.level != level:
        raise InvalidInput(
            f"role {role} must be bound to a {level}, not a {row.level}",
            f"角色 {role} 应绑定到 {level} 级区划",
            field="region",
        )
    return row.id


def demo_account_lines(conn: Connection) -> list[tuple[str, str, str]]:
    """(username, role, area) of the demo accounts present in the database."""
    rows = conn.execute(
        select(User.username, User.role, Region.code, Region.name)
        .outerjoin(Region, Region.id == User.region_id)
        .where(User.username.in_(DEMO_USERNAMES))
    ).all()
    order = {name: i for i, name in enumerate(DEMO_USERNAMES)}
    rows = sorted(rows, key=lambda r: order[r.username])
    return [(r.username, r.role, f"{r.code} {r.name}" if r.code else "-") for r in rows]
