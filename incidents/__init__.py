"""Hazard reports: categories, intake and routing, lifecycle, deadlines, escalation and
notifications."""
