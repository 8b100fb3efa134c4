"""Alembic migrations; `alembic_config()` builds the config used by the CLI and tests."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from geoalchemy2 import alembic_helpers

MIGRATIONS_DIR = Path(__file__).resolve().parent


def load_models() -> None:
    """Import every module that defines tables, so Base.metadata knows them all."""
    import core.audit
    import core.rate_limits  # noqa: F401
    import grid.models
    import grid.people  # noqa: F401
    import incidents.models  # noqa: F401
    import maps.basemap  # noqa: F401


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointed at this package's revisions and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%': escape it so passwords with % survive.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


# Tables PostGIS itself owns; they are never part of gridgov's schema.
POSTGIS_TABLES = {"spatial_ref_sys", "geometry_columns", "geography_columns"}


def include_object(obj, name, type_, reflected, compare_to):
    """Leave PostGIS's own tables out of autogenerate and the drift test."""
    if type_ == "table" and name in POSTGIS_TABLES:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)
