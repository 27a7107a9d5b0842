"""Acme's Confluence site ↔ Contoso with Confluence in Microsoft Search, through the real flows (the
health checks' connected world: OAuth with the feature's scopes, Contoso's admin consent), and four
of Acme's Confluence people matched to Contoso users. The crawl reads Confluence with the real
reader (connections.search.confluence)."""

import pytest

from connections.models import MatchOutcome, UserMatch
from connections.services import connection_set_features
from sandbox.atlassian.models import Account
from sandbox.atlassian.seed import NAMED
from tests.connections.health.conftest import connected  # noqa: F401 (fixture)

# Acme's Confluence people (sandbox.atlassian.seed NAMED) and the Contoso user each is matched to.
PEOPLE = {"admin": "admin", "mixed-case": "alice", "hidden-email": "bob.case", "shared-email-1": "erin.nomail"}
NAMES = {key: name for key, name, *_ in NAMED}


@pytest.fixture
def acme_search(connected, settings):  # noqa: F811
    settings.SEARCH_SCHEMA_POLL = 0.2
    connection = connected.notifications
    connection_set_features(connection=connection, features=[*connection.features, "confluence_search"],
                            acting_user=connected.admin)
    connected.consent_again(connection)
    connected.reauthorize_site(connection.site, features=connection.features)
    tenant = connected.sandbox.tenant("contoso")
    domain = connected.sandbox.tenants["contoso"].domain
    people = {}
    for key, local in PEOPLE.items():
        account = Account.objects.get(display_name=NAMES[key])
        user = tenant.users.get(user_principal_name=f"{local}@{domain}")
        UserMatch.objects.update_or_create(
            connection=connection, account_id=account.account_id,
            defaults={"display_name": account.display_name, "outcome": MatchOutcome.MATCHED,
                      "microsoft_user_id": str(user.pk)})
        people[key] = user
    return connected, connection, people
