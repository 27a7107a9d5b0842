"""A full run against the sandbox: every awkward directory case ends as it should."""

import pytest

from connections.matching import directory
from connections.matching import job as matching_job
from connections.matching.job import match_users
from connections.models import MicrosoftUserKey, UserMatch, UserMatchingState
from connections.sync.errors import JobError
from tenants.models.directory import SiteAuthStatus

from .conftest import FakeContext, Killed

DOMAIN, INITIAL = "fabrikam.com", "fabrikam.onmicrosoft.com"


def outcome(world, account_id):
    row = UserMatch.objects.get(connection=world.connection, account_id=account_id)
    return row.outcome, row.method, row.microsoft_user_id, sorted(row.candidates)


@pytest.fixture
def cases(matching):
    w = matching
    ids = {
        # Microsoft's awkward users, each met by an Atlassian account with the address that should find it.
        "bob": w.add_account(f"bob.case@{DOMAIN}"),  # Microsoft mail is Bob.Case@FABRIKAM.COM
        "carol_upn": w.add_account(f"c.alias@{INITIAL}"),  # mail differs from the UPN
        "carol_proxy": w.add_account(f"carol@{DOMAIN}"),  # only an smtp: alias
        "dave": w.add_account("DAVE@partner.example"),  # a guest, found by mail
        "erin": w.add_account(f"erin.nomail@{DOMAIN}"),  # no mailbox: by UPN
        "frank": w.add_account(f"frank.disabled@{DOMAIN}"),  # disabled, still the same person
        "grace": w.add_account(f"grace.deleted@{DOMAIN}"),  # deleted: gone from the directory
        "helpdesk": w.add_account(f"helpdesk@{DOMAIN}"),
        # Atlassian's awkward accounts.
        "ada": w.account_id("ada.admin@acme.example"),
        "bea": w.account_id("Bea.Member@Acme.example"),
        "hal": w.account_id("hal.hidden@acme.example"),
        "app": w.account_id("noreply@automation.example"),
        "ian": w.account_id("ian.inactive@acme.example"),
    }
    shared = __import__("sandbox.atlassian.models", fromlist=["Account"]).Account.objects.filter(
        email="shared@acme.example"
    )
    ids["shared"] = sorted(shared.values_list("account_id", flat=True))
    ms = {
        "ada": w.add_ms_user(f"ada@{DOMAIN}", mail="Ada.Admin@ACME.example"),
        "bea": w.add_ms_user("bea.member@acme.example"),
        "shared": w.add_ms_user(f"sam@{DOMAIN}", mail=f"sam@{DOMAIN}", proxies=["smtp:shared@acme.example"]),
        "help1": w.add_ms_user(f"helpdesk1@{DOMAIN}", mail=f"helpdesk@{DOMAIN}"),
        "help2": w.add_ms_user(f"helpdesk2@{DOMAIN}", mail=f"HelpDesk@{DOMAIN}"),
    }
    return ids, ms


def test_every_awkward_case_ends_as_it_should(matching, cases):
    w, (ids, ms) = matching, cases
    ctx = w.run()
    assert outcome(w, ids["bob"]) == ("matched", "mail", w.ms_id(f"bob.case@{DOMAIN}"), [])
    assert outcome(w, ids["carol_upn"]) == ("matched", "upn", w.ms_id(f"c.alias@{INITIAL}"), [])
    assert outcome(w, ids["carol_proxy"]) == ("matched", "proxy", w.ms_id(f"c.alias@{INITIAL}"), [])
    assert outcome(w, ids["dave"]) == ("matched", "mail", w.ms_id(f"dave_partner.example#EXT#@{INITIAL}"), [])
    assert outcome(w, ids["erin"]) == ("matched", "upn", w.ms_id(f"erin.nomail@{DOMAIN}"), [])
    assert outcome(w, ids["frank"]) == ("matched", "mail", w.ms_id(f"frank.disabled@{DOMAIN}"), [])
    assert outcome(w, ids["grace"]) == ("unmatched", "", "", [])
    assert outcome(w, ids["helpdesk"]) == ("ambiguous", "", "", sorted([ms["help1"], ms["help2"]]))
    assert outcome(w, ids["ada"]) == ("matched", "mail", ms["ada"], [])
    assert outcome(w, ids["bea"]) == ("matched", "upn", ms["bea"], [])
    assert outcome(w, ids["hal"])[0] == "hidden"
    assert outcome(w, ids["app"])[0] == "hidden"
    assert outcome(w, ids["ian"]) == ("unmatched", "", "", [])
    # Two Atlassian accounts sharing one address are both that one person.
    assert [outcome(w, a) for a in ids["shared"]] == [("matched", "proxy", ms["shared"], [])] * 2
    # Every account of the site has exactly one row; the run counted what it wrote.
    from sandbox.atlassian.models import Account

    site_accounts = Account.objects.filter(sites__name="acme").count()
    assert UserMatch.objects.filter(connection=w.connection).count() == site_accounts
    assert ctx.created == site_accounts and ctx.fetched >= site_accounts
    state = UserMatchingState.objects.get(connection=w.connection)
    assert state.delta_link and state.last_full_at and state.microsoft_users > 10


def test_emails_are_not_stored_unless_the_organization_says_so(matching, cases):
    from connections.models import OrganizationMatchingSettings

    w = matching
    w.run()
    assert not UserMatch.objects.filter(connection=w.connection).exclude(email="").exists()
    assert not MicrosoftUserKey.objects.filter(connection=w.connection).exclude(value="").exists()
    assert not UserMatch.objects.filter(connection=w.connection, email_key__contains="@").exists()

    OrganizationMatchingSettings.objects.create(organization=w.organization, store_emails=True)
    w.run()
    bob = UserMatch.objects.get(connection=w.connection, account_id=cases[0]["bob"])
    assert bob.email == f"bob.case@{DOMAIN}"
    assert MicrosoftUserKey.objects.filter(connection=w.connection, value=f"bob.case@{DOMAIN}").exists()


def test_only_the_declared_fields_are_requested(matching, cases):
    w = matching
    since = max([r.pk for r in w.sandbox.requests()] or [0])
    w.run()
    graph = [r for r in w.sandbox.requests(since_id=since) if "/users" in r.path and "graph" in r.path]
    assert graph, "the run read the directory through Graph"
    selected = "%24select=id%2Cmail%2CuserPrincipalName%2CproxyAddresses"
    # First the deltaLink for the next incremental run ("sync from now"), then the users, 999 a page.
    first, listing = graph[0], graph[1]
    assert first.path.endswith("/v1.0/users/delta")
    assert selected in first.query and "deltatoken=latest" in first.query, first.query
    assert listing.path.endswith("/v1.0/users")
    assert selected in listing.query and "top=999" in listing.query, listing.query
    assert all(not r.path.endswith("/users/delta") for r in graph[1:]), "users are listed once, not twice"


def _jira_pages_asked_before_the_last_graph_page(world, since):
    asked = [r for r in world.sandbox.requests(since_id=since) if r.path.endswith(("/users", "/users/search"))]
    last_graph = max(i for i, r in enumerate(asked) if r.path.endswith("/v1.0/users"))
    return sum(1 for r in asked[:last_graph] if r.path.endswith("/users/search"))


@pytest.mark.parametrize("lookahead, ahead", [(25_000, "several"), (0, "one")])
def test_the_jira_listing_reads_ahead_while_the_microsoft_side_is_written_within_its_bound(
    matching, cases, monkeypatch, settings, lookahead, ahead
):
    w = matching
    w.sandbox.set_fault("page_limit", "fabrikam", max=1)  # a Graph page per user, a Jira page per account
    monkeypatch.setattr(directory, "JIRA_PAGE_SIZE", 1)
    settings.SYNC_LOOKAHEAD_ACCOUNTS = lookahead
    reference = w.run_fake()  # a plain run's rows, to compare with
    expected = set(UserMatch.objects.filter(connection=w.connection).values_list("account_id", "outcome"))

    since = max([r.pk for r in w.sandbox.requests()] or [0])
    w.run()
    early = _jira_pages_asked_before_the_last_graph_page(w, since)
    if ahead == "several":
        assert early >= 2, "Jira's pages came in while the Microsoft side was still being read"
    else:
        assert early <= 1, "with no room to hold pages, only the first Jira request is in flight"
    assert set(UserMatch.objects.filter(connection=w.connection).values_list("account_id", "outcome")) == expected
    assert reference.checkpoint["phase"] == "done"


def test_a_site_to_authorize_again_fails_the_run_with_that_remedy_once_the_microsoft_side_is_read(matching, cases):
    w = matching
    site = w.connection.site
    site.auth_status = SiteAuthStatus.NEEDS_REAUTH
    site.save(update_fields=["auth_status"])
    with pytest.raises(JobError) as failed:
        w.run_fake()
    assert "authorize again" in failed.value.remedy and not failed.value.transient
    assert MicrosoftUserKey.objects.filter(connection=w.connection).exists()  # kept for the retry
    assert not UserMatch.objects.filter(connection=w.connection).exists()


def test_a_killed_run_resumes_without_duplicates(matching, cases, monkeypatch):
    w = matching
    w.sandbox.set_fault("page_limit", "fabrikam", max=4)  # Graph's page size for users/delta is its own
    monkeypatch.setattr(directory, "JIRA_PAGE_SIZE", 5)
    monkeypatch.setattr(matching_job, "ATLASSIAN_BATCH", 5)  # a batch per Jira page: kill points on both sides
    reference = w.run_fake()
    expected = set(
        UserMatch.objects.filter(connection=w.connection).values_list("account_id", "outcome", "microsoft_user_id")
    )
    keys = MicrosoftUserKey.objects.filter(connection=w.connection).count()
    ms_pages = reference.checkpoint["ms_users"] // 4 + 1
    assert reference.saves > ms_pages + 3  # several pages on both sides

    # Killed in the Microsoft phase, then (the resumed run) killed in the Atlassian phase.
    first = FakeContext(w.connection, kill_after=2)
    with pytest.raises(Killed):
        match_users(first)
    assert first.checkpoint["phase"] == "microsoft" and first.checkpoint["next"]
    second = FakeContext(w.connection, checkpoint=first.checkpoint, kill_after=ms_pages + 1)
    with pytest.raises(Killed):
        match_users(second)
    assert second.checkpoint["phase"] == "atlassian" and second.checkpoint["start_at"] > 0
    third = FakeContext(w.connection, checkpoint=second.checkpoint)
    match_users(third)

    fetched = first.counts["fetched"] + second.counts["fetched"] + third.counts["fetched"]
    assert fetched == reference.counts["fetched"]  # no page read twice: each resumed where the last stopped
    rows = list(
        UserMatch.objects.filter(connection=w.connection).values_list("account_id", "outcome", "microsoft_user_id")
    )
    assert len(rows) == len({r[0] for r in rows}) and set(rows) == expected
    assert MicrosoftUserKey.objects.filter(connection=w.connection).count() == keys


def test_an_oauth_site_is_read_through_the_gateway_with_a_bearer_token(matching):
    from datetime import timedelta

    from django.utils import timezone

    from connections.models import Credential
    from tests.sandbox.test_atlassian_helpers import site, token_for

    w = matching
    tokens = token_for(w.sandbox, sites=["acme"])
    acme = w.connection.site
    acme.auth_mode, acme.cloud_id = "oauth", site(w.sandbox, "acme")["id"]
    acme.save()
    Credential.objects.filter(site=acme).delete()
    credential = Credential(organization=w.organization, site=acme, kind=Credential.Kind.ATLASSIAN_OAUTH)
    credential.access_token, credential.refresh_token = tokens["access_token"], tokens["refresh_token"]
    credential.expires_at = timezone.now() + timedelta(hours=1)
    credential.save()
    since = max([r.pk for r in w.sandbox.requests()] or [0])
    run = w.run()
    listed = [r for r in w.sandbox.requests(since_id=since) if r.path.endswith("/rest/api/3/users/search")]
    assert listed and all(r.path.startswith(f"/atlassian-api/ex/jira/{acme.cloud_id}/") for r in listed)
    hal = UserMatch.objects.get(connection=w.connection, account_id=w.account_id("hal.hidden@acme.example"))
    assert hal.outcome == "hidden" and run.created == UserMatch.objects.filter(connection=w.connection).count()


def test_jira_throttling_is_waited_out(matching, monkeypatch):
    w = matching
    monkeypatch.setattr(directory, "JIRA_PAGE_SIZE", 5)
    w.sandbox.set_fault("rate_limit", "site:acme", limit=2, window=2)
    since = max([r.pk for r in w.sandbox.requests()] or [0])
    w.run()
    listed = [r for r in w.sandbox.requests(since_id=since) if r.path.endswith("/users/search")]
    statuses = [r.status for r in listed]
    assert 429 in statuses and statuses[-1] == 200
    # Retry-After is at least a second here: nothing was sent to the site sooner after a 429.
    for refused, following in zip(listed, listed[1:], strict=False):
        if refused.status == 429:
            assert (following.created - refused.created).total_seconds() >= 0.9
    # Pages of 5, then the empty page that ends the list.
    assert sum(s == 200 for s in statuses) == -(-UserMatch.objects.filter(connection=w.connection).count() // 5) + 1


def test_pages_shorter_than_asked_are_read_to_the_end(matching):
    from sandbox.atlassian.models import Account

    w = matching
    w.sandbox.set_fault("page_limit", "site:acme", max=2)  # the portal asks for 1000 per page
    since = max([r.pk for r in w.sandbox.requests()] or [0])
    w.run()
    members = set(Account.objects.filter(sites__name="acme").values_list("account_id", flat=True))
    assert set(UserMatch.objects.filter(connection=w.connection).values_list("account_id", flat=True)) == members
    pages = [r for r in w.sandbox.requests(since_id=since) if r.path.endswith("/users/search")]
    assert len(pages) == -(-len(members) // 2) + 1


def test_a_tenant_without_the_permission_fails_the_run_with_a_remedy(matching, request):
    from connections.microsoft.graph import forget_tokens
    from connections.models import SyncRun
    from connections.sync.runner import run_execute

    w = matching
    w.sandbox.revoke("fabrikam", "User.Read.All")
    w.sandbox.revoke("fabrikam", "Directory.Read.All")
    forget_tokens()  # a token minted before the revocation still carries the role until it expires
    request.addfinalizer(forget_tokens)  # and the one minted after it must not outlive this test
    run = SyncRun.objects.create(
        organization=w.organization, connection=w.connection, kind=SyncRun.Kind.USER_MATCHING, mode="full"
    )
    run_execute(run.pk)
    run.refresh_from_db()
    assert run.state == "failed" and "refused to list" in run.error and "User.Read.All" in run.remedy
    assert not UserMatch.objects.filter(connection=w.connection).exists()
