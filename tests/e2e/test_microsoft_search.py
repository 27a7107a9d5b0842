"""In the browser: an admin sets up Confluence in Microsoft Search through the six steps (a bad
id refused on its field, the filter previewed against Confluence, Confluence's own message for
bad CQL), publishes, and sees the items indexed; the sandbox's index then answers who finds
what. The real Confluence reader and the Graph connector, against the sandbox."""

from connections.models import SearchConnection
from portal.demo_data import DEMO_EMAIL, DEMO_PASSWORD
from sandbox.atlassian.models import Page
from sandbox.microsoft.search_index import visible_items
from sandbox.microsoft.search_models import SearchFaults
from tests.connections.health.conftest import connected  # noqa: F401 (fixture)
from tests.connections.search_graph.acme import acme_search  # noqa: F401 (fixture)

from .conftest import sign_in


def test_the_admin_walks_the_six_steps_and_sees_items_indexed(page, live_server, acme_search):  # noqa: F811
    world, connection, people = acme_search
    SearchFaults.objects.create(tenant=world.sandbox.tenant("contoso"), schema_seconds=0.5)
    in_scope = Page.objects.filter(space__key__in=["PUB", "HR"], status="current").count()

    sign_in(page, live_server, DEMO_EMAIL, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    page.click("text=set up and status")
    page.wait_for_selector("h1:has-text('Microsoft Search')")

    # 1. Connection settings: a bad id is refused on its field, then a good one saved.
    page.fill("#id_connection-name", "Acme wiki")
    page.fill("#id_connection-graph_connection_id", "acme-wiki")
    page.click("#step-connection button[type=submit]")
    page.wait_for_selector("#id_connection-graph_connection_id_error")
    page.fill("#id_connection-graph_connection_id", "acmewiki")
    page.click("#step-connection button[type=submit]")
    page.wait_for_selector("#step-connection >> text=Saved.")

    # 2. Properties, with the seed's labels; title and URL always on.
    page.uncheck("#step-properties input[value=createdBy]")
    page.click("#step-properties button[type=submit]")
    page.wait_for_selector("#step-properties >> text=Saved: Title, URL")

    # 3. Filter: Confluence's own message for bad CQL, then a preview of what would be sent.
    page.fill("#id_filter-cql", "lastmodified >>> now(")
    page.click("#step-filter button:has-text('Preview')")
    page.wait_for_selector("#search-preview >> text=Confluence says:")
    page.fill("#id_filter-space_keys", "PUB, HR")
    page.fill("#id_filter-cql", "")
    page.click("#step-filter button:has-text('Preview')")
    page.wait_for_selector("[data-preview-total]")
    assert int(page.inner_text("[data-preview-total]")) == in_scope
    assert page.locator("#search-preview tbody tr").count() == 5
    page.click("#step-filter button:has-text('Save filter')")
    page.wait_for_selector("#step-filter >> text=Saved: spaces HR, PUB")

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
    search = SearchConnection.objects.get(connection=connection)
    assert page.inner_text("[data-search-state]").startswith("Indexed"), (search.error, search.remedy)
    indexed = int(page.inner_text("[data-items-indexed]"))
    assert indexed == search.items_indexed and in_scope - 2 <= indexed <= in_scope
    assert page.locator("#search-status", has_text="Last full crawl").count() == 1

    contoso = world.sandbox.tenant("contoso")
    hr = {f"page{p.page_id}" for p in Page.objects.filter(space__key="HR", status="current")}
    public = {f"page{p.page_id}" for p in Page.objects.filter(space__key="PUB", status="current")}
    bea = {h.item_id for h in visible_items(contoso, str(people["mixed-case"].pk))}
    sam = {h.item_id for h in visible_items(contoso, str(people["shared-email-1"].pk))}
    assert public <= bea and public <= sam
    assert hr & bea and not hr & sam  # HR is for the hr group
