"""Handling a report: actions on the state machine, work lists, deadlines, escalation,
patrol, desk."""
