"""Blog posts need read:blogpost:confluence, which the catalog gained after sites were first
authorized for Confluence in Microsoft Search: such a site is shown as needing re-authorization,
and once authorized again the grant reads blog posts."""

from urllib.parse import parse_qs, urlsplit

from django.urls import reverse

from connections import permissions
from connections.atlassian import needs


def test_a_grant_from_before_blog_posts_asks_to_authorize_again(admin_client, acme):
    site = acme.site
    before = [n for n in needs.scopes_for(["confluence_search"]) if n != "read:blogpost:confluence"]
    site.auth_mode, site.auth_status, site.granted_scopes = "oauth", "authorized", before
    site.save()
    acme.connection.features = ["confluence_search"]
    acme.connection.save()
    missing = {m.name: m for m in needs.missing_scopes(site)}
    assert list(missing) == ["read:blogpost:confluence"]
    assert missing["read:blogpost:confluence"].features == ("Confluence in Microsoft Search",)
    page = admin_client.get(reverse("tenants:site_detail", args=[site.pk])).content.decode()
    assert "Re-authentication required" in page and "read:blogpost:confluence" in page
    assert "To index the blog posts." in page and "Re-authorize with Atlassian" in page
    response = admin_client.post(reverse("connections:atlassian:reauthorize", args=[site.pk]))
    assert "read:blogpost:confluence" in parse_qs(urlsplit(response.url).query)["scope"][0].split()
    site.granted_scopes = needs.scopes_for(["confluence_search"])
    site.save()
    assert needs.missing_scopes(site) == []
    assert "read:blogpost:confluence" in {s.name for s in permissions.FEATURES["confluence_search"].atlassian}
