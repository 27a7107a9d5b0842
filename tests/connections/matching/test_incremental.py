"""Incremental runs follow Microsoft's changes; manual mappings and the non-Entra rule hold."""

import pytest
from django.core.exceptions import ValidationError

from connections.matching import directory, services
from connections.models import ManualMapping, MicrosoftUserKey, SyncRun, UserMatch, UserMatchingState
from tenants.models import AuditEvent

DOMAIN = "fabrikam.com"


def row(world, account_id):
    return UserMatch.objects.get(connection=world.connection, account_id=account_id)


def graph_requests(world, since):
    return [r for r in world.sandbox.requests(since_id=since) if "/users" in r.path and "graph" in r.path]


def last_request_id(world):
    return max([r.pk for r in world.sandbox.requests()] or [0])


def test_delta_brings_additions_changes_and_deletions(matching):
    w = matching
    added = w.add_account(f"newcomer@{DOMAIN}")
    renamed = w.add_account(f"renamed.new@{DOMAIN}")
    leaver = w.add_account(f"alice@{DOMAIN}")
    w.run()
    assert row(w, added).outcome == "unmatched" and row(w, renamed).outcome == "unmatched"
    assert row(w, leaver).outcome == "matched"
    since = last_request_id(w)

    newcomer = w.add_ms_user(f"newcomer@{DOMAIN}", mail=f"newcomer@{DOMAIN}")  # addition
    w.sandbox.update_user("fabrikam", f"bob.case@{DOMAIN}", mail=f"renamed.new@{DOMAIN}")  # change
    w.sandbox.delete_user("fabrikam", f"alice@{DOMAIN}")  # deletion (@removed)
    run = w.run(mode="incremental")

    assert run.mode == "incremental"
    assert (row(w, added).outcome, row(w, added).microsoft_user_id) == ("matched", newcomer)
    assert (row(w, renamed).outcome, row(w, renamed).method) == ("matched", "mail")
    assert row(w, renamed).microsoft_user_id == w.ms_id(f"bob.case@{DOMAIN}")
    assert (row(w, leaver).outcome, row(w, leaver).microsoft_user_id) == ("unmatched", "")
    assert run.fetched == 3 and run.deleted == 1 and run.updated == 3
    # It cost what changed: one delta page, no re-listing of either directory.
    calls = graph_requests(w, since)
    assert len(calls) == 1 and "deltatoken" in calls[0].query
    assert not [r for r in w.sandbox.requests(since_id=since) if "users/search" in r.path]
    assert not MicrosoftUserKey.objects.filter(connection=w.connection, user_id=w.ms_id(f"alice@{DOMAIN}")).exists()


def test_a_user_added_while_a_full_run_lists_the_directory_is_matched_by_the_next_incremental_run(
    matching, monkeypatch
):
    # A full run takes its deltaLink before it lists the users: what changes in between is
    # not lost, it comes with the next incremental run.
    w = matching
    account = w.add_account(f"latecomer@{DOMAIN}")
    listed, added = directory.graph_users_page, []

    def list_then_add(graph, link=None):
        page = listed(graph, link)
        if not added:
            added.append(w.add_ms_user(f"latecomer@{DOMAIN}", mail=f"latecomer@{DOMAIN}"))
        return page

    monkeypatch.setattr(directory, "graph_users_page", list_then_add)
    w.run()
    assert added and row(w, account).outcome == "unmatched"  # the listing was read before the user came

    run = w.run(mode="incremental")
    assert run.mode == "incremental" and run.fetched == 1
    assert (row(w, account).outcome, row(w, account).microsoft_user_id) == ("matched", added[0])


@pytest.mark.parametrize("expired_status", [400, 410])
def test_an_expired_delta_token_falls_back_to_a_full_run(matching, expired_status):
    # 400 syncStateNotFound is Microsoft's announced answer; 410 Gone the older one.
    w = matching
    w.run()
    w.sandbox.set_fault("delta_expiry", "fabrikam", seconds=0, status=expired_status)
    since = last_request_id(w)
    run = w.run(mode="incremental")
    assert run.mode == "full" and run.checkpoint["fallback"] == "Microsoft's delta token expired"
    statuses = [r.status for r in graph_requests(w, since)]
    assert statuses[0] == expired_status and all(s == 200 for s in statuses[1:]) and len(statuses) >= 2
    w.sandbox.clear_faults()
    assert UserMatchingState.objects.get(connection=w.connection).delta_link


def test_an_incremental_run_without_a_full_one_does_a_full_one(matching):
    run = matching.run(mode="incremental")
    assert run.mode == "full" and UserMatch.objects.filter(connection=matching.connection).exists()


def test_manual_mappings_survive_reruns(matching):
    w = matching
    hidden = w.account_id("hal.hidden@acme.example")
    w.run()
    assert row(w, hidden).outcome == "hidden"
    with pytest.raises(ValidationError):
        services.manual_mapping_set(
            connection=w.connection, account_id=hidden, microsoft_user="nobody@fabrikam.com", acting_user=w.admin
        )
    erin = services.manual_mapping_set(
        connection=w.connection, account_id=hidden, microsoft_user=f"Erin.Nomail@{DOMAIN}", acting_user=w.admin
    )
    assert erin == w.ms_id(f"erin.nomail@{DOMAIN}")
    assert (row(w, hidden).outcome, row(w, hidden).method) == ("matched", "manual")
    w.run()
    w.sandbox.update_user("fabrikam", f"erin.nomail@{DOMAIN}", display_name="Erin N.")
    w.run(mode="incremental")
    assert (row(w, hidden).outcome, row(w, hidden).method, row(w, hidden).microsoft_user_id) == (
        "matched",
        "manual",
        erin,
    )
    assert AuditEvent.objects.filter(action="user_matching.mapping_set", actor_user=w.admin).exists()

    services.manual_mapping_clear(connection=w.connection, account_id=hidden, acting_user=w.admin)
    assert row(w, hidden).outcome == "hidden" and not ManualMapping.objects.exists()


def test_the_non_entra_rule_maps_emails_to_upns(matching):
    w = matching
    gil = w.add_account("Gil.Rule@acme.example")
    mapped = w.add_ms_user(f"gil.rule@{DOMAIN}")  # no mail: only the rule can find it
    w.run()
    assert row(w, gil).outcome == "unmatched"
    run = services.identity_mode_set(
        connection=w.connection,
        identity_mode="non_entra",
        upn_pattern=r"(?P<name>[^@]+)@acme\.example",
        upn_replacement=r"\g<name>@fabrikam.com",
        acting_user=w.admin,
    )
    assert run is not None and run.mode == "full"  # the new rule needs a full run; queued for it
    SyncRun.objects.filter(pk=run.pk).delete()
    w.run()
    assert (row(w, gil).outcome, row(w, gil).method, row(w, gil).microsoft_user_id) == ("matched", "regex", mapped)
    # An Entra-style UPN equal to the email is not tried any more in non-Entra mode.
    assert row(w, w.account_id("ada.admin@acme.example")).outcome == "unmatched"


@pytest.mark.parametrize(
    "pattern, replacement, message",
    [
        ("(unclosed", r"\1@x.com", "not a valid regular expression"),
        (r"(\w+)+@acme\.example", r"\1@x.com", "repeats a group"),
        (r"(a*)*b", r"\1@x.com", "repeats a group"),
        (r"(?P<name>.+)@acme\.example", r"\g<other>@x.com", "refers to a group"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(matching, pattern, replacement, message):
    with pytest.raises(ValidationError) as refused:
        services.identity_mode_set(
            connection=matching.connection,
            identity_mode="non_entra",
            upn_pattern=pattern,
            upn_replacement=replacement,
            acting_user=matching.admin,
        )
    assert message in str(refused.value)
    assert services.matching_state(matching.connection).identity_mode == "entra"
