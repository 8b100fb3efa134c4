"""Web-Mercator copies of cells, buildings and the public incident point, for vector tiles

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

from migrations.sql import load

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The public place of an incident, coarsened per category as incidents/publication/views.py does for
# the tracking page: the exact pin; the building's point-on-surface (else the pin snapped
# to 0.001 degree, ~100 m); the cell's point-on-surface (else snapped to 0.005 degree,
# ~500 m). Kept in EPSG:3857 so a tile query never transforms a row. Recomputed only when
# the place, building, cell or category of the incident changes: `UPDATE incidents SET
# location = location` refreshes rows after a category's precision or a footprint changes.
_PUBLIC_POINT_TRIGGER = """
CREATE TRIGGER incidents_public_point_3857
BEFORE INSERT OR UPDATE OF location, building_id, cell_id, category_code ON incidents
FOR EACH ROW EXECUTE FUNCTION incidents_public_point_3857()
"""


def _mercator(geometry_type: str) -> Geometry:
    return Geometry(geometry_type=geometry_type, srid=3857, spatial_index=False)


def upgrade() -> None:
    op.add_column(
        "grid_cells",
        sa.Column(
            "boundary_3857",
            _mercator("MULTIPOLYGON"),
            sa.Computed("ST_Transform(boundary, 3857)", persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_grid_cells_boundary_3857", "grid_cells", ["boundary_3857"], postgresql_using="gist"
    )
    op.add_column(
        "buildings",
        sa.Column(
            "footprint_3857",
            _mercator("MULTIPOLYGON"),
            sa.Computed("ST_Transform(footprint, 3857)", persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_buildings_footprint_3857", "buildings", ["footprint_3857"], postgresql_using="gist"
    )

    op.add_column("incidents", sa.Column("public_point_3857", _mercator("POINT"), nullable=True))
    op.execute(load("incidents_public_point_3857"))
    op.execute(_PUBLIC_POINT_TRIGGER)
    # Backfill through the trigger: one set-based statement.
    op.execute("UPDATE incidents SET location = location")
    op.create_index(
        "ix_incidents_public_point_3857",
        "incidents",
        ["public_point_3857"],
        postgresql_using="gist",
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_public_point_3857", table_name="incidents")
    op.execute("DROP TRIGGER incidents_public_point_3857 ON incidents")
    op.execute("DROP FUNCTION incidents_public_point_3857()")
    op.drop_column("incidents", "public_point_3857")
    op.drop_index("ix_buildings_footprint_3857", table_name="buildings")
    op.drop_column("buildings", "footprint_3857")
    op.drop_index("ix_grid_cells_boundary_3857", table_name="grid_cells")
    op.drop_column("grid_cells", "boundary_3857")
