"""The migrations own the schema: they go down and up cleanly and match the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gis.orm import Base
from incidents.categories import sync_categories
from migrations import alembic_config, include_object

GRIDGOV_TABLES = {
    "regions", "grid_cells", "users", "cell_assignments", "buildings",
    "houses", "households", "people", "residences",
    "incident_categories", "incidents", "incident_events", "outbox", "inbox_items",
    "webhooks", "webhook_deliveries", "ratings", "work_orders", "rating_flags",
    "rating_appeals", "extension_requests", "check_ins", "patrol_visits",
}


def test_models_and_migrated_schema_do_not_drift(sync_engine):
    with sync_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(migrated_db, sync_engine):
    config = alembic_config(migrated_db)
    command.downgrade(config, "base")
    remaining = set(inspect(sync_engine).get_table_names()) & GRIDGOV_TABLES
    assert remaining == set()
    command.upgrade(config, "head")
    assert set(inspect(sync_engine).get_table_names()) >= GRIDGOV_TABLES
    with sync_engine.begin() as conn:  # put back the seed other tests rely on
        sync_categories(conn)


def test_geometry_columns_declare_type_and_srid_4326(sync_engine):
    with sync_engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT f_table_name, f_geometry_column, srid, type FROM geometry_columns "
            "WHERE f_table_schema = 'public'"
        ).all()
    gridgov_columns = [r for r in rows if r[0] in GRIDGOV_TABLES]
    assert gridgov_columns, "expected geometry columns in gridgov tables"
    for table, column, srid, geometry_type in gridgov_columns:
        if column.endswith("_3857"):  # Web-Mercator copies for vector tiles (0009)
            assert srid == 3857, f"{table}.{column} has SRID {srid}"
            continue
        assert srid == 4326, f"{table}.{column} has SRID {srid}"
        assert geometry_type != "GEOMETRY", f"{table}.{column} has no declared type"
