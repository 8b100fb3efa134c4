"""ORM models of hazard reports, one module per sub-domain; importing this package
registers every table with Base.metadata (migrations.load_models relies on it)."""

from incidents.models import handling, intake, notify, ratings, reports, summaries  # noqa: F401
