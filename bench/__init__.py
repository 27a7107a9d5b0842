"""Benchmarks against the sandbox (`manage.py benchmark ...`). Installed only beside the
sandbox (SANDBOX_ENABLED): the product's packages never import either."""
