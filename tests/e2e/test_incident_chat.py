"""In the browser: from a connection's service projects the demo admin opens the open incidents of
IT, opens IT-1, sees which responders have no Microsoft user (with a link to map them), and
creates the incident's Teams chat: the page says who is in it and that the portal's app is."""

from portal.demo_data import DEMO_EMAIL, DEMO_PASSWORD
from sandbox.microsoft.models import Chat, ChatInstalledApp, ChatMember
from tests.connections.chatops.conftest import chatops  # noqa: F401 (fixture)

from .conftest import sign_in


def test_create_chat_for_an_incident(page, live_server, chatops):  # noqa: F811
    sign_in(page, live_server, DEMO_EMAIL, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/connections/{chatops.connection.pk}/")
    page.locator("#projects tr[data-project='IT'] a", has_text="Incidents").click()
    page.locator("#incidents tr[data-incident='IT-1'] a").click()
    unmapped = page.locator(f"#responders tr[data-responder='{chatops.issue.assignee.account_id}']")
    assert "not added" in unmapped.inner_text()
    assert unmapped.locator("a", has_text="map in the user mapping").count() == 1

    page.click("#create-chat")
    page.locator(".message", has_text="Teams chat created for IT-1 with 2 responder(s).").wait_for()
    assert page.locator(".message", has_text="Not added, no Microsoft user: Ada Admin").count() == 1
    chat_section = page.locator("#chat")
    assert "The portal's Teams app is installed in the chat." in chat_section.inner_text()
    assert "with 3 member(s)" in chat_section.inner_text()
    assert chat_section.locator("button", has_text="Sync members").count() == 1

    chat = Chat.objects.get(topic="IT-1: Email delivery delayed for all staff")
    assert {str(m.user_id) for m in ChatMember.objects.filter(chat=chat)} == {
        str(chatops.ms[n].pk) for n in ("admin", "alice", "bob.case")
    }
    assert ChatInstalledApp.objects.filter(chat=chat).count() == 1
