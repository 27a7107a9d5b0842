"""A site authorized for Teams notifications before they registered Jira webhooks lacks the scopes
they need now (manage:jira-webhook, read:space:confluence, search:confluence): the site page shows the drift with the
reason and offers re-authorization."""

from django.urls import reverse

from connections.atlassian import needs


def test_the_new_notification_scopes_show_as_drift_and_offer_reauthorization(admin_client, acme):
    site = acme.site
    site.auth_mode, site.auth_status = "oauth", "authorized"
    site.features = ["teams_notifications"]
    # What Teams notifications asked for before: no webhook scope, no Confluence spaces.
    site.granted_scopes = ["offline_access", "read:jira-work", "read:me"]
    site.save()
    acme.connection.features = ["teams_notifications"]
    acme.connection.save()
    missing = {m.name: m for m in needs.missing_scopes(site)}
    assert set(missing) == {"manage:jira-webhook", "read:space:confluence", "search:confluence"}
    assert missing["manage:jira-webhook"].features == ("Teams notifications from Jira and Confluence",)
    page = admin_client.get(reverse("tenants:site_detail", args=[site.pk])).content.decode()
    assert "Re-authentication required" in page and "manage:jira-webhook" in page
    assert "register, refresh and remove the Jira webhook" in page
    assert "Re-authorize with Atlassian" in page
