"""The migrations own the schema: they go down and up cleanly and match the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.orm import Base
from incidents.categories import sync_categories
from maps.basemap import BASEMAP_MODELS
from maps.basemap import SCHEMA as BASEMAP_SCHEMA
from migrations import alembic_config, include_object

GRIDGOV_TABLES = {
    "regions",
    "grid_cells",
    "users",
    "cell_assignments",
    "buildings",
    "houses",
    "households",
    "people",
    "residences",
    "incident_categories",
    "incidents",
    "incident_events",
    "outbox",
    "inbox_items",
    "webhooks",
    "webhook_deliveries",
    "ratings",
    "work_orders",
    "rating_flags",
    "rating_appeals",
    "extension_requests",
    "check_ins",
    "patrol_visits",
    "patrol_visit_photos",
    "city_assets",
}
# Schemas gridgov owns besides the default one (None); other schemas are not ours.
GRIDGOV_SCHEMAS = {None, "public", BASEMAP_SCHEMA}


def _gridgov_schemas_only(obj, name, type_, reflected, compare_to):
    """include_object, and only gridgov's schemas (PostGIS's tiger/topology are not ours)."""
    if type_ == "schema":
        return name in GRIDGOV_SCHEMAS
    if type_ == "table" and obj.schema not in GRIDGOV_SCHEMAS:
        return False
    return include_object(obj, name, type_, reflected, compare_to)


def _include_name(name, type_, parent_names):
    """Reflect only gridgov's schemas."""
    if type_ == "schema":
        return name in GRIDGOV_SCHEMAS
    return True


def test_models_and_migrated_schema_do_not_drift(sync_engine):
    with sync_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_object": _gridgov_schemas_only,
                "include_name": _include_name,
                "include_schemas": True,
            },
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_drift_test_sees_the_basemap_schema(sync_engine):
    """The drift test covers basemap: its tables are reflected from their own schema."""
    assert set(inspect(sync_engine).get_table_names(schema=BASEMAP_SCHEMA)) == set(BASEMAP_MODELS)


def test_downgrade_to_base_and_upgrade_again(migrated_db, sync_engine):
    config = alembic_config(migrated_db)
    command.downgrade(config, "base")
    remaining = set(inspect(sync_engine).get_table_names()) & GRIDGOV_TABLES
    assert remaining == set()
    assert BASEMAP_SCHEMA not in inspect(sync_engine).get_schema_names()
    command.upgrade(config, "head")
    assert set(inspect(sync_engine).get_table_names()) >= GRIDGOV_TABLES
    assert set(inspect(sync_engine).get_table_names(schema=BASEMAP_SCHEMA)) == set(BASEMAP_MODELS)
    with sync_engine.begin() as conn:  # put back the seed other tests rely on
        sync_categories(conn)


def test_geometry_columns_declare_type_and_srid_4326(sync_engine):
    with sync_engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT f_table_name, f_geometry_column, srid, type FROM geometry_columns "
            "WHERE f_table_schema = 'public' OR f_table_schema = 'basemap'"
        ).all()
    gridgov_columns = [r for r in rows if r[0] in GRIDGOV_TABLES | set(BASEMAP_MODELS)]
    assert gridgov_columns, "expected geometry columns in gridgov tables"
    for table, column, srid, geometry_type in gridgov_columns:
        if column.endswith("_3857"):  # Web-Mercator copies for vector tiles (0009)
            assert srid == 3857, f"{table}.{column} has SRID {srid}"
            continue
        assert srid == 4326, f"{table}.{column} has SRID {srid}"
        assert geometry_type != "GEOMETRY", f"{table}.{column} has no declared type"
