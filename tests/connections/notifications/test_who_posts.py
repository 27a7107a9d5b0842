"""Which path posts as whom is said where the admins decide: on the consent link's page (before a
tenant admin grants) and in the data-handling statement, generated from the feature's declaration
and the Bot Framework endpoint's."""

from django.urls import reverse

from connections import permissions, statement
from connections.microsoft.consent import consent_request_create
from connections.notifications import endpoints


def test_the_statement_says_the_app_posts_and_through_which_call():
    built = statement.build(["teams_notifications"])
    [posting] = built["posting"]
    assert "posted by the portal's Teams app" in posting["posts_as"] and "never as a person" in posting["posts_as"]
    assert [e["key"] for e in posting["endpoints"]] == [endpoints.BOT_ACTIVITIES.key]
    assert "Confluence" in posting["posts_as"] and "search" in posting["posts_as"]
    text = statement.markdown(built)
    assert "**Who posts (teams_notifications)**" in text and "/v3/conversations/{conversation_id}/activities" in text
    webhook = next(s for s in built["non_microsoft_services"][0]["scopes"] if s["scope"] == "manage:jira-webhook")
    assert {e["path"] for e in webhook["endpoints"]} == {"/rest/api/3/webhook", "/rest/api/3/webhook/refresh"}
    # A feature that posts nothing says nothing about posting.
    assert statement.build(["user_mapping"])["posting"] == []


def test_the_consent_link_page_says_who_posts(client, acme):
    connection = acme.connection
    connection.features = ["teams_notifications"]
    connection.save()
    _, token = consent_request_create(connection=connection, acting_user=acme.admin)
    page = client.get(reverse("connections:microsoft:consent_link", args=[token])).content.decode()
    assert "posts-as" in page and "never as a person" in page
    assert "TeamsAppInstallation.ReadWriteSelfForTeam" in page
    assert permissions.FEATURES["teams_notifications"].posts[:40].replace("'", "&#x27;") in page
