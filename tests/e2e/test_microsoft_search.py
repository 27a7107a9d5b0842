"""In the browser: an admin sets up Confluence in Microsoft Search through the six steps, previews
the filter, publishes, and sees the items indexed; the sandbox then answers who finds what."""

from sandbox.microsoft.search_models import SearchFaults
from tests.connections.search_graph import memory_source
from tests.connections.search_graph.conftest import search_world  # noqa: F401 (fixture)
from tests.factories import PASSWORD

from .conftest import sign_in


def test_the_admin_walks_the_six_steps_and_sees_items_indexed(page, live_server, search_world):  # noqa: F811
    world = search_world
    SearchFaults.objects.create(tenant=world.ms_tenant, schema_seconds=0.5)
    world.confluence(items=[
        memory_source.page(1, acl=[("user", "acc-ann")]),
        memory_source.page(2, acl=[("user", "acc-bob"), ("user", "acc-nomatch")]),
        memory_source.page(3, acl=[("everyone", "")]),
        memory_source.page(4, space="OPS", acl=[("everyone", "")]),
    ])
    sign_in(page, live_server, world.admin.email, PASSWORD)
    page.goto(f"{live_server.url}/connections/{world.connection.pk}/")
    page.click("text=set up and status")
    page.wait_for_selector("h1:has-text('Microsoft Search')")

    # 1. Connection settings: a bad id is refused on its field, then a good one saved.
    page.fill("#id_connection-name", "Engineering wiki")
    page.fill("#id_connection-graph_connection_id", "eng-wiki")
    page.click("#step-connection button[type=submit]")
    page.wait_for_selector("#id_connection-graph_connection_id_error")
    page.fill("#id_connection-graph_connection_id", "engwiki")
    page.click("#step-connection button[type=submit]")
    page.wait_for_selector("#step-connection >> text=Saved.")

    # 2. Properties, with the seed's labels; title and URL always on.
    page.uncheck("#step-properties input[value=createdBy]")
    page.click("#step-properties button[type=submit]")
    page.wait_for_selector("#step-properties >> text=Saved: Title, URL")

    # 3. Filter, with a preview of what would be sent.
    page.fill("#id_filter-space_keys", "ENG")
    page.click("#step-filter button:has-text('Preview')")
    page.wait_for_selector("[data-preview-total]")
    assert page.inner_text("[data-preview-total]") == "3"
    assert page.locator("#search-preview", has_text="Everyone in the tenant").count() == 1
    page.click("#step-filter button:has-text('Save filter')")
    page.wait_for_selector("#step-filter >> text=Saved: spaces ENG")

    # 4. Search permissions.
    page.check("input[name=permissions-permission_mode][value=access]")
    page.check("input[name=permissions-identity_type][value=entra]")
    page.click("#step-permissions button:has-text('Save search permissions')")
    page.wait_for_selector("#step-permissions >> text=Saved: Only people with access")

    # 5. Refresh schedules.
    page.fill("#id_refresh-full_every_minutes", "1440")
    page.fill("#id_refresh-incremental_every_minutes", "30")
    page.fill("#id_refresh-permissions_every_minutes", "360")
    page.click("#step-refresh button[type=submit]")
    page.wait_for_selector("#step-refresh >> text=Saved.")

    # 6. Review and publish: the portal creates the connection, registers the schema, crawls.
    page.click("#step-publish button:has-text('Publish')")
    page.wait_for_selector("text=Published: the portal creates the Microsoft Search connection")
    page.reload()
    assert page.inner_text("[data-search-state]").startswith("Indexed")
    assert page.inner_text("[data-items-indexed]") == "3"
    assert page.locator("#search-status", has_text="Unmapped people").count() == 1
    assert page.locator("text=People without a Microsoft match").count() == 1

    assert world.finds("ann") == {"page1", "page3"}
    assert world.finds("bob") == {"page2", "page3"}
    assert world.finds("dan") == {"page3"}  # OPS is out of the filter
