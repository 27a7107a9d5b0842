"""Seed both simulated services from one seed number (`manage.py sandbox seed`, the test fixture)."""

import importlib
import random

from .microsoft.seed import seed_microsoft


def seed(seed=1, users=20, big_tenant_users=None, atlassian_size=20):
    tenants = seed_microsoft(random.Random(seed), users=users, big_tenant_users=big_tenant_users)  # noqa: S311
    try:
        module = importlib.import_module("sandbox.atlassian.seed")
    except ModuleNotFoundError as missing:
        if missing.name != "sandbox.atlassian.seed":
            raise
        atlassian = False
    else:
        # Its own generator, so a change on one side never reshuffles the other.
        module.seed_atlassian(random.Random(seed * 7919 + 1), atlassian_size)  # noqa: S311
        atlassian = True
    return tenants, atlassian
