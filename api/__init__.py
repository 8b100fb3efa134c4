"""The outer shell: FastAPI app, routes, auth, error mapping, CLI."""
