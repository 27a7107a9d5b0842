"""Pytest fixtures that serve the sandbox over HTTPS for tests (owned by the sandbox)."""
