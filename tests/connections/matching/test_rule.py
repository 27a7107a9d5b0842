"""The non-Entra rule: RE2 matches it in linear time, and validation refuses what RE2 lacks and
what would make a backtracking engine explode, on the form and in the service alike; a saved
rule refused today fails the run with what to change."""

import signal
from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import escape

from connections.matching import keys, services
from connections.matching.match import Rule
from connections.models import ManualMapping, SyncRun, UserMatch, UserMatchingState
from connections.sync.runner import run_execute
from tenants.models import AuditEvent

DOMAIN = "fabrikam.com"

REFUSED = [
    pytest.param("(a|a)*b", "repeats a choice", id="identical-branches-under-a-star"),
    pytest.param("(a|aa)*$", "repeats a choice", id="overlapping-branches-under-a-star"),
    pytest.param("(a+)+$", "repeats a group that itself repeats", id="nested-quantifiers"),
    pytest.param(r"(?P<name>[^@]+)@(acme)\2\.example", "Backreferences", id="backreference"),
    pytest.param(r"(?P<name>[^@]+)(?=@)@acme\.example", "Lookahead and lookbehind", id="lookahead"),
    pytest.param(r"a{,3}@acme\.example", "with its minimum", id="brace-without-minimum"),
    pytest.param("a" * 10_000, "at most 300 characters", id="10000-characters"),
]


class TookTooLong(Exception):
    pass


@contextmanager
def returns_within(seconds):
    """Fails what runs inside if it has not returned after `seconds` (Python's re checks for
    signals while it backtracks, so a hung match is interrupted; RE2 never needs to be)."""

    def expired(signum, frame):
        raise TookTooLong(f"did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def identity_url(world):
    return reverse("connections:user_mapping_identity", args=[world.connection.pk])


@pytest.mark.parametrize("pattern, message", REFUSED)
def test_the_form_refuses_the_pattern_next_to_the_field_and_keeps_what_was_typed(matching, client, pattern, message):
    client.force_login(matching.admin)
    response = client.post(
        identity_url(matching),
        {"identity_mode": "non_entra", "upn_pattern": pattern, "upn_replacement": r"\g<name>@fabrikam.com"},
    )
    page = response.content.decode()
    assert response.status_code == 400
    error = page.split('id="id_upn_pattern_error">', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert f'value="{escape(pattern)}"' in page
    assert not AuditEvent.objects.filter(action="user_matching.settings_changed").exists()
    assert not UserMatchingState.objects.filter(connection=matching.connection, identity_mode="non_entra").exists()


@pytest.mark.parametrize("pattern, message", REFUSED)
def test_the_service_refuses_the_pattern_whoever_calls_it(matching, pattern, message):
    with pytest.raises(ValidationError) as refused:
        services.identity_mode_set(
            connection=matching.connection,
            identity_mode="non_entra",
            upn_pattern=pattern,
            upn_replacement=r"\g<name>@fabrikam.com",
            acting_user=matching.admin,
        )
    assert message in " ".join(refused.value.message_dict["upn_pattern"])
    assert services.matching_state(matching.connection).identity_mode == "entra"
    assert not AuditEvent.objects.filter(action="user_matching.settings_changed").exists()


def test_a_bad_replacement_is_refused_on_its_own_field(matching, client):
    client.force_login(matching.admin)
    response = client.post(
        identity_url(matching),
        {"identity_mode": "non_entra", "upn_pattern": r"(?P<name>[^@]+)@acme\.example", "upn_replacement": r"\q"},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "The replacement is not valid" in page.split('id="id_upn_replacement_error">', 1)[1].split("</p>", 1)[0]
    assert 'id="id_upn_pattern_error"' not in page


@pytest.mark.parametrize(
    "pattern, replacement, email, upn",
    [
        (r"(?P<name>[^@]+)@acme\.example", r"\g<name>@fabrikam.com", "jane.doe@acme.example", "jane.doe@fabrikam.com"),
        (r"([a-z]+)\.([a-z]+)@acme\.example", r"\2.\1@fabrikam.com", "jane.doe@acme.example", "doe.jane@fabrikam.com"),
        # The whole email must match: a match of a part of it is no match.
        (r"(?P<name>[^@]+)@acme\.example", r"\g<name>@fabrikam.com", "jane@acme.example.org", ""),
        # Case is ignored, in the expression and the email alike.
        (r"(?P<name>[^@]+)@ACME\.Example", r"\g<name>@fabrikam.com", "jane@acme.example", "jane@fabrikam.com"),
        # Literal text of the replacement is taken as written, non-ASCII included.
        (r"(?P<name>[^@]+)@acme\.example", r"\g<name>@société.fr", "jane@acme.example", "jane@société.fr"),
        (r"(?P<first>[a-z]+)(\.(?P<last>[a-z]+))?@acme\.example", r"\g<first>\g<last>@x.com", "jane@acme.example",
         "jane@x.com"),
        # RE2's classes: \w is ASCII (the page says so).
        (r"(?P<name>\w+)@acme\.example", r"\g<name>@fabrikam.com", "josé@acme.example", ""),
        (r"([a-z]+\.)+example@acme\.example", r"\g<0>.x@fabrikam.com", "a.b.example@acme.example",
         "a.b.example@acme.example.x@fabrikam.com"),
    ],
)
def test_a_valid_rule_maps_emails_as_documented(pattern, replacement, email, upn):
    assert Rule("non_entra", pattern, replacement).upn_for(email) == upn


def test_matching_an_adversarial_address_returns_at_once_whatever_the_expression(monkeypatch):
    # The expression validation refuses (it explodes a backtracking engine: exponential on a
    # run of "a" that does not end as expected), let through to reach the matcher itself.
    monkeypatch.setattr(keys._Backtracking, "verdict", lambda self, parsed: None)
    rule = Rule("non_entra", r"(?P<name>(a|aa)*)@acme\.example", r"\g<name>@fabrikam.com")
    with returns_within(10):
        assert rule.upn_for("a" * 50_000 + "!") == ""
        assert rule.upn_for("a" * 300 + "!@acme.example") == ""
        assert rule.upn_for("a" * 40 + "@acme.example") == "a" * 40 + "@fabrikam.com"


def test_a_run_matches_adversarial_accounts_at_once(matching, monkeypatch):
    w = matching
    monkeypatch.setattr(keys._Backtracking, "verdict", lambda self, parsed: None)
    services.identity_mode_set(
        connection=w.connection,
        identity_mode="non_entra",
        upn_pattern=r"(?P<name>(a|aa)*)@acme\.example",
        upn_replacement=rf"\g<name>@{DOMAIN}",
        acting_user=w.admin,
    )
    SyncRun.objects.filter(connection=w.connection).delete()
    trap = w.add_account("a" * 60 + "!@acme.example")
    plain = w.add_account("aaaa@acme.example")
    mapped = w.add_ms_user(f"aaaa@{DOMAIN}")
    with returns_within(10):
        w.run()
    rows = dict(UserMatch.objects.filter(connection=w.connection).values_list("account_id", "outcome"))
    assert rows[trap] == "unmatched"
    assert UserMatch.objects.get(connection=w.connection, account_id=plain).microsoft_user_id == mapped


def test_a_saved_rule_refused_today_fails_the_run_with_what_to_change(matching, client):
    w = matching
    w.run()
    before = set(UserMatch.objects.filter(connection=w.connection).values_list("account_id", "outcome", "updated_at"))
    # Saved before the checks existed (no path stores it any more).
    UserMatchingState.objects.filter(connection=w.connection).update(
        identity_mode="non_entra", upn_pattern=r"(?P<name>(a|aa)*)@acme\.example", upn_replacement=r"\g<name>@x.com"
    )
    for mode in ("full", "incremental"):
        run = SyncRun.objects.create(
            organization=w.organization, connection=w.connection, kind=SyncRun.Kind.USER_MATCHING, mode=mode
        )
        run_execute(run.pk)
        run.refresh_from_db()
        assert run.state == SyncRun.State.FAILED
        assert run.error.startswith("The identity pattern is no longer accepted: This expression repeats a choice")
        assert "User mapping page" in run.remedy and "Identity mode" in run.remedy
    after = set(UserMatch.objects.filter(connection=w.connection).values_list("account_id", "outcome", "updated_at"))
    assert after == before  # nothing applied
    client.force_login(w.viewer)
    page = client.get(reverse("connections:user_mapping", args=[w.connection.pk])).content.decode()
    assert "The identity pattern is no longer accepted" in page


def test_a_manual_mapping_can_be_removed_while_the_saved_rule_is_refused(matching):
    w = matching
    w.run()
    hidden = w.account_id("hal.hidden@acme.example")
    services.manual_mapping_set(
        connection=w.connection, account_id=hidden, microsoft_user=f"alice@{DOMAIN}", acting_user=w.admin
    )
    UserMatchingState.objects.filter(connection=w.connection).update(
        identity_mode="non_entra", upn_pattern=r"(a+)+@acme\.example", upn_replacement=r"\1@x.com"
    )
    assert services.manual_mapping_clear(connection=w.connection, account_id=hidden, acting_user=w.admin)
    assert not ManualMapping.objects.exists()
    assert UserMatch.objects.get(connection=w.connection, account_id=hidden).outcome == "hidden"
