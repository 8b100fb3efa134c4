"""Fuzzy search: pg_trgm indexes on addresses and names; one house per unit number

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 19:35:45
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_buildings_address_trgm",
        "buildings",
        ["address"],
        postgresql_using="gin",
        postgresql_ops={"address": "gin_trgm_ops"},
    )
    # The unique constraint's index leads with building_id, so it replaces the old one.
    op.drop_index("ix_houses_building_id", table_name="houses")
    op.create_unique_constraint(
        op.f("uq_houses_building_id_unit_number"), "houses", ["building_id", "unit_number"]
    )
    op.create_index(
        "ix_people_name_trgm",
        "people",
        ["name"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_people_name_trgm", table_name="people")
    op.drop_constraint(op.f("uq_houses_building_id_unit_number"), "houses", type_="unique")
    op.create_index("ix_houses_building_id", "houses", ["building_id"])
    op.drop_index("ix_buildings_address_trgm", table_name="buildings")
    # pg_trgm stays: it may have been there before us, and keeping it is harmless.
