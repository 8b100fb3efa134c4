"""The `gridgov` command line: one module per command group, gathered in cli.main."""
