"""A page's address made from one reversed pattern is the address `{% url %}` gives, for every
id, under a script prefix, and for a route that takes no plain integer."""

import pytest
from django.urls import NoReverseMatch, reverse, set_script_prefix

from portal.reversing import id_url

PAGES = [
    "connections:connection_detail",
    "support:connection_detail",
    "tenants:site_detail",
    "tenants:tenant_detail",
    "connections:connection_live",
]


@pytest.mark.parametrize("name", PAGES)
def test_an_id_page_address_is_the_one_reverse_gives(name):
    for pk in (0, 1, 7, 42, 10_000, 2**40, "31"):
        assert id_url(name, pk) == reverse(name, args=[pk])


def test_the_address_follows_the_script_prefix_the_portal_is_served_under():
    try:
        set_script_prefix("/portal/")
        assert id_url("connections:connection_detail", 5) == "/portal/connections/5/"
        assert id_url("connections:connection_detail", 5) == reverse("connections:connection_detail", args=[5])
    finally:
        set_script_prefix("/")
    assert id_url("connections:connection_detail", 5) == "/connections/5/"


def test_what_reverse_refuses_is_refused_alike():
    with pytest.raises(NoReverseMatch):
        id_url("connections:connection_detail", -1)
    with pytest.raises(NoReverseMatch):
        id_url("connections:no_such_page", 1)
    with pytest.raises(ValueError):
        id_url("connections:connection_detail", "1/../../admin")
