"""The Teams directory job against the sandbox: teams and channels stored per connection,
only the needed fields asked for, reruns idempotent, removals marked."""

from urllib.parse import parse_qs

from connections.models import SyncRun, TeamsChannel, TeamsTeam
from sandbox.microsoft.models import Channel, Team


def _query(row):
    return {k: v[0] for k, v in parse_qs(row.query).items()}


def test_teams_and_channels_are_stored_with_their_ids_names_and_visibility(teams_world):
    since = max([r.pk for r in teams_world.sandbox.requests()] or [0])
    run = teams_world.directory()
    assert run.state == SyncRun.State.SUCCEEDED, (run.error, run.remedy)
    expected = {str(t.pk): t.display_name for t in Team.objects.filter(tenant=teams_world.ms_tenant)}
    stored = {t.team_id: t.display_name for t in TeamsTeam.objects.filter(connection=teams_world.connection)}
    assert stored == expected and len(stored) == 2
    assert set(TeamsTeam.objects.values_list("visibility", flat=True)) == {"public"}
    channels = TeamsChannel.objects.filter(connection=teams_world.connection)
    assert sorted(channels.values_list("channel_id", flat=True)) == sorted(
        Channel.objects.filter(team__tenant=teams_world.ms_tenant).values_list("id", flat=True)
    )
    assert set(channels.values_list("membership_type", flat=True)) == {"standard"}
    assert (run.created, run.progress_done, run.progress_total, run.percent) == (2 + 5, 2, 2, 100)
    # Only what the job needs was asked for.
    log = teams_world.sandbox.requests(path_contains="/teams", since_id=since)
    assert _query(log[0])["$select"] == "id,displayName,visibility"
    channel_calls = [r for r in log if r.path.endswith("/channels")]
    assert len(channel_calls) == 2
    assert all(_query(r)["$select"] == "id,displayName,membershipType" for r in channel_calls)


def test_a_rerun_changes_nothing_and_removals_are_marked(teams_world):
    teams_world.directory()
    again = teams_world.directory()
    assert (again.created, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 7)
    assert TeamsTeam.objects.count() == 2 and TeamsChannel.objects.count() == 5
    # In Teams: a channel is deleted, another renamed, and the second team goes away.
    engineering = Team.objects.get(tenant=teams_world.ms_tenant, display_name="Engineering")
    desk = Team.objects.get(tenant=teams_world.ms_tenant, display_name="Service Desk")
    desk_channels = list(desk.channels.order_by("created"))
    desk_channels[-1].delete()
    desk_channels[0].display_name = "General (renamed)"
    desk_channels[0].save()
    engineering_id = str(engineering.pk)
    engineering.delete()
    third = teams_world.directory()
    assert third.state == SyncRun.State.SUCCEEDED
    assert third.deleted == 1 + 1 + 2  # the team, the deleted channel, the team's two channels
    assert third.updated == 1
    gone = TeamsTeam.objects.get(team_id=engineering_id)
    assert gone.removed_at is not None
    assert TeamsChannel.objects.filter(team=gone, removed_at=None).count() == 0
    assert TeamsChannel.objects.get(channel_id=desk_channels[0].id).display_name == "General (renamed)"
    assert TeamsChannel.objects.filter(removed_at=None).count() == 2
    # Nothing is deleted from the portal's records: removed rows stay, marked.
    assert TeamsChannel.objects.count() == 5
