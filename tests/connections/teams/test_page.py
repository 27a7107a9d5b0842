"""The Jobs section of the connection page: admins start, cancel and retry runs and edit
schedules; viewers see the same runs and progress read-only."""

import pytest
from django.urls import reverse

from connections.models import Connection, SyncRun, SyncSchedule, TeamsChannel, TeamsTeam

DIRECTORY = SyncRun.Kind.TEAMS_DIRECTORY


@pytest.fixture
def connection(acme):
    acme.connection.status = Connection.Status.ACTIVE
    acme.connection.save()
    return acme.connection


def _run(connection, **fields):
    fields.setdefault("kind", DIRECTORY)
    return SyncRun.objects.create(organization=connection.organization, connection=connection, **fields)


def _detail(client, connection):
    return client.get(reverse("connections:connection_detail", args=[connection.pk])).content.decode()


def test_admins_see_progress_and_every_button(admin_client, connection):
    _run(connection, state=SyncRun.State.RUNNING, progress_done=3, progress_total=8, fetched=120, created=100)
    failed = _run(connection, kind=SyncRun.Kind.USER_MATCHING, state=SyncRun.State.FAILED,
                  error="Microsoft refused to list users.", remedy="Ask an admin to grant User.Read.All.")
    page = _detail(admin_client, connection)
    assert 'id="jobs"' in page and "Start</button>" in page
    assert '<progress max="100" value="38"' in page and "3/8 · 38%" in page
    assert "fetched 120 · new 100" in page
    assert "Microsoft refused to list users." in page and "Ask an admin to grant User.Read.All." in page
    assert "Cancel</button>" in page
    assert reverse("connections:job_retry", args=[connection.pk, failed.pk]) in page
    assert 'name="full_every_minutes"' in page


def test_viewers_see_runs_read_only(viewer_client, connection):
    run = _run(connection, state=SyncRun.State.FAILED, error="It broke.", remedy="Retry later.")
    page = _detail(viewer_client, connection)
    assert "It broke." in page and "Retry later." in page
    assert "Start</button>" not in page and "Cancel</button>" not in page and "Retry</button>" not in page
    assert 'name="full_every_minutes"' not in page
    for name, args in (("job_start", [connection.pk]), ("job_retry", [connection.pk, run.pk]),
                       ("job_cancel", [connection.pk, run.pk]), ("job_schedule", [connection.pk])):
        response = viewer_client.post(reverse(f"connections:{name}", args=args), {"kind": DIRECTORY, "mode": "full"})
        assert response.status_code in (403, 404)
    assert SyncRun.objects.count() == 1 and not SyncSchedule.objects.exists()


def test_the_live_part_follows_the_progress(viewer_client, connection):
    run = _run(connection, state=SyncRun.State.RUNNING, progress_done=1, progress_total=4)
    url = reverse("connections:jobs_live", args=[connection.pk])
    assert "1/4 · 25%" in viewer_client.get(url).content.decode()
    SyncRun.objects.filter(pk=run.pk).update(progress_done=3)
    assert "3/4 · 75%" in viewer_client.get(url).content.decode()


def test_start_cancel_and_retry_from_the_page(admin_client, connection, acme):
    back = reverse("connections:connection_detail", args=[connection.pk]) + "#jobs"
    response = admin_client.post(reverse("connections:job_start", args=[connection.pk]),
                                 {"kind": DIRECTORY, "mode": "incremental"})
    assert response.status_code == 302 and response.url == back
    run = SyncRun.objects.get()
    assert (run.kind, run.mode, run.state, run.requested_by) == (DIRECTORY, "incremental", "queued", acme.admin)
    # A second start of the same job is refused in words, not with an error page.
    response = admin_client.post(reverse("connections:job_start", args=[connection.pk]),
                                 {"kind": DIRECTORY, "mode": "full"}, follow=True)
    assert "already queued or running" in response.content.decode()
    assert SyncRun.objects.count() == 1
    admin_client.post(reverse("connections:job_cancel", args=[connection.pk, run.pk]))
    run.refresh_from_db()
    assert run.state == SyncRun.State.CANCELLED
    admin_client.post(reverse("connections:job_retry", args=[connection.pk, run.pk]))
    retry = SyncRun.objects.exclude(pk=run.pk).get()
    assert (retry.resumed_from, retry.trigger, retry.state) == (run, "retry", "queued")


def test_bad_input_gets_a_clear_answer(admin_client, connection):
    response = admin_client.post(reverse("connections:job_start", args=[connection.pk]),
                                 {"kind": "mine_bitcoin", "mode": "full"}, follow=True)
    assert "Choose a job and a mode" in response.content.decode()
    response = admin_client.post(reverse("connections:job_schedule", args=[connection.pk]),
                                 {"kind": DIRECTORY, "full_every_minutes": "-5", "incremental_every_minutes": "x"})
    # The page again, at the refused row: what was typed, each error by its field.
    assert response.status_code == 400
    row = response.content.decode().split(f'data-schedule="{DIRECTORY}"', 1)[1].split("</tr>", 1)[0]
    assert 'value="-5"' in row and 'value="x"' in row and "autofocus" in row
    assert "greater than or equal to 0" in row and "Enter a whole number" in row
    assert not SyncRun.objects.exists() and not SyncSchedule.objects.exists()
    # A rule of the service (both intervals 0 while on) comes back the same way.
    response = admin_client.post(reverse("connections:job_schedule", args=[connection.pk]), {
        "kind": DIRECTORY, "enabled": "on", "full_every_minutes": "0", "incremental_every_minutes": "0"})
    assert response.status_code == 400 and "Give at least one interval" in response.content.decode()


def test_schedules_are_edited_on_the_page(admin_client, connection):
    admin_client.post(reverse("connections:job_schedule", args=[connection.pk]), {
        "kind": DIRECTORY, "enabled": "on", "full_every_minutes": "720", "incremental_every_minutes": "30"})
    schedule = SyncSchedule.objects.get()
    assert (schedule.enabled, schedule.full_every_minutes, schedule.incremental_every_minutes) == (True, 720, 30)
    assert schedule.next_full_at is not None


def test_another_organizations_run_is_not_found_under_our_connection(admin_client, connection, globex):
    theirs = _run(globex.connection, state=SyncRun.State.FAILED)
    for name in ("job_cancel", "job_retry"):
        response = admin_client.post(reverse(f"connections:{name}", args=[connection.pk, theirs.pk]))
        assert response.status_code == 404
    assert SyncRun.objects.count() == 1


def test_the_directory_is_listed_for_choosing_targets(viewer_client, connection):
    team = TeamsTeam.objects.create(organization=connection.organization, connection=connection, team_id="t1",
                                    display_name="Service Desk", visibility="public")
    for name, removed in (("Incidents", False), ("Old stuff", True)):
        TeamsChannel.objects.create(
            organization=connection.organization, connection=connection, team=team, channel_id=f"19:{name}",
            display_name=name, membership_type="standard", removed_at=None if not removed else team.first_seen_at)
    page = _detail(viewer_client, connection)
    assert "Service Desk" in page and "Incidents" in page and "Old stuff" not in page
    assert "1 channel no longer in Teams" in page
