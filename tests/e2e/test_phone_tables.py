"""At 375 px nothing is wider than the screen and no table hides a column: tables stack, each
cell under its heading."""

from connections.microsoft.consent import consent_request_create
from connections.services import grants_request
from tenants.models import Role
from tests.factories import PASSWORD, ConnectionFactory, MembershipFactory

from .conftest import sign_in

HIDDEN = """() => {
  const width = window.innerWidth;
  const page = document.documentElement.scrollWidth - width;
  const cells = [...document.querySelectorAll('td, th')].filter(c => c.offsetParent !== null);
  const cut = cells.filter(c => c.getBoundingClientRect().right > width + 1)
    .map(c => c.textContent.trim().slice(0, 40));
  return {page, cut, cells: cells.length};
}"""


def test_the_connection_and_consent_pages_fit_a_phone_and_show_every_column(browser, live_server, transactional_db):
    membership = MembershipFactory(role=Role.ADMIN)
    connection = ConnectionFactory(organization=membership.organization,
                                   features=["user_mapping", "teams_notifications", "channel_knowledge"])
    grants_request(connection=connection, acting_user=membership.user)
    _, token = consent_request_create(connection=connection, acting_user=membership.user)
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        sign_in(page, live_server, membership.user.email, PASSWORD)
        for path in (f"/connections/{connection.pk}/", f"/consent/{token}/"):
            page.goto(live_server.url + path)
            found = page.evaluate(HIDDEN)
            assert found["cells"] > 0, path
            assert found["page"] <= 0, f"{path} scrolls sideways by {found['page']}px"
            assert found["cut"] == [], f"{path} hides table cells past the screen's edge: {found['cut'][:5]}"
        # Each stacked cell still says which column it is.
        assert page.locator("td[data-label='Why it reads it']").count() > 0
    finally:
        context.close()
