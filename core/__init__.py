"""Platform code every package shares: settings, database engines, errors, audit, rate
limits, clock, ORM base."""
