import uuid

import pytest
from django.core.exceptions import ValidationError

from tenants.validators import normalize_site_url, parse_domains, parse_tenant_id


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("https://acme.atlassian.net", "https://acme.atlassian.net"),
        ("acme.atlassian.net", "https://acme.atlassian.net"),
        ("  HTTPS://Acme.Atlassian.NET/wiki/spaces/X ", "https://acme.atlassian.net"),
        ("https://legacy.jira.com/", "https://legacy.jira.com"),
        ("https://agency.atlassian-us-gov-mod.net", "https://agency.atlassian-us-gov-mod.net"),
    ],
)
def test_atlassian_cloud_addresses_are_normalized(raw, expected):
    assert normalize_site_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "http://acme.atlassian.net",
        "https://acme.atlassian.net.evil.com",
        "https://atlassian.net",
        "https://jira.acme.com",
        "https://user:pw@acme.atlassian.net",
        "https://acme.atlassian.net:8443",
        "https://-acme.atlassian.net",
    ],
)
def test_non_atlassian_addresses_are_refused_with_the_expected_shape(raw):
    with pytest.raises(ValidationError) as exc:
        normalize_site_url(raw)
    assert "atlassian.net" in " ".join(exc.value.messages)


def test_tenant_ids_are_guids():
    guid = uuid.uuid4()
    assert parse_tenant_id(f" {{{guid}}} ") == guid
    with pytest.raises(ValidationError, match="Entra admin center"):
        parse_tenant_id("contoso.onmicrosoft.com")


def test_domains_are_split_lowercased_and_deduplicated():
    assert parse_domains("Contoso.com, contoso.com;fabrikam.onmicrosoft.com\n") == [
        "contoso.com",
        "fabrikam.onmicrosoft.com",
    ]
    with pytest.raises(ValidationError, match="not_a_domain"):
        parse_domains("contoso.com, not_a_domain")
