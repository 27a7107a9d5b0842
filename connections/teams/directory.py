"""The Teams directory job: the teams and channels the connection can see, kept per
connection so admins can choose notification targets (seeds 000 and 004: ids and names).

1. teams: Graph's team list (app-only: every team of the tenant; connections.microsoft.endpoints
   TEAMS, id, displayName, visibility only); each page upserted as one batch with its checkpoint.
2. channels: per team (in id order), the team's channel list (CHANNELS: id, displayName,
   membershipType); one batch per team, checkpoint "team_after".
3. what this run did not see (last_seen_at older than the run's start) is marked removed.

A resumed run keeps the first attempt's start time (in the checkpoint), so rows it saw
before the worker died still count as seen. Full and incremental runs do the same work:
Graph offers no change feed for teams and channels, and a directory is small.
"""

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..microsoft import endpoints as graph_endpoints
from ..microsoft.graph import Forbidden, Graph, GraphError, NotFound
from ..models import TeamsChannel, TeamsTeam
from ..sync.errors import JobError

TEAMS_PAGE_SIZE = 100


def job_error(exc):
    """A Graph failure in the user's words, with what to do."""
    if isinstance(exc, Forbidden):
        return JobError("Microsoft refused to list Teams data: a permission is missing.", remedy=exc.remedy)
    return JobError(str(exc), remedy=exc.remedy, transient=exc.transient)


def upsert(model, ctx, rows, key, fields):
    """Insert or update `rows` (dicts keyed by `key`) in one statement; return the counts.

    Counts come from one read of the existing rows, so the page shows what changed."""
    connection = ctx.connection
    ids = [r[key] for r in rows]
    existing = {
        values[0]: values[1:]
        for values in model.objects.filter(connection=connection, **{f"{key}__in": ids}).values_list(
            key, *fields, "removed_at"
        )
    }
    created = updated = unchanged = 0
    now = timezone.now()
    objects = []
    for row in rows:
        before = existing.get(row[key])
        if before is None:
            created += 1
        elif tuple(before[:-1]) == tuple(row[f] for f in fields) and before[-1] is None:
            unchanged += 1
        else:
            updated += 1
        objects.append(
            model(organization=ctx.organization, connection=connection, last_seen_at=now, removed_at=None, **row)
        )
    model.objects.bulk_create(
        objects,
        update_conflicts=True,
        unique_fields=["connection", key],
        update_fields=[*fields, "last_seen_at", "removed_at"],
    )
    return {"fetched": len(rows), "created": created, "updated": updated, "unchanged": unchanged}


def sync_directory(ctx):
    checkpoint = dict(ctx.checkpoint)
    checkpoint.setdefault("started", timezone.now().isoformat())
    started = parse_datetime(checkpoint["started"])
    try:
        graph = Graph(ctx.connection)
        if checkpoint.get("phase", "teams") == "teams":
            _teams(ctx, graph, checkpoint)
        _channels(ctx, graph, checkpoint, started)
    except GraphError as exc:
        raise job_error(exc) from exc
    _mark_removed(ctx, started)


def _teams(ctx, graph, checkpoint):
    for page in graph_endpoints.teams_pages(graph, top=TEAMS_PAGE_SIZE, next_link=checkpoint.get("next")):
        rows = [
            {"team_id": t["id"], "display_name": t.get("displayName") or "", "visibility": t.get("visibility") or ""}
            for t in page.get("value", [])
        ]
        with ctx.batch():
            counts = upsert(TeamsTeam, ctx, rows, "team_id", ["display_name", "visibility"])
            checkpoint["next"] = page.get("@odata.nextLink")
            if not checkpoint["next"]:
                checkpoint.update(phase="channels", team_after=0)
            ctx.save_checkpoint(checkpoint, **counts)


def _channels(ctx, graph, checkpoint, started):
    teams = TeamsTeam.objects.filter(connection=ctx.connection, removed_at=None, last_seen_at__gte=started)
    total = teams.count()
    done = teams.filter(pk__lte=checkpoint.get("team_after", 0)).count()
    ctx.progress(done=done, total=total)
    for team in teams.filter(pk__gt=checkpoint.get("team_after", 0)).order_by("pk"):
        rows = []
        try:
            pages = graph_endpoints.channels_pages(graph, team.team_id)
            for page in pages:
                rows += [
                    {
                        "channel_id": c["id"],
                        "display_name": c.get("displayName") or "",
                        "membership_type": c.get("membershipType") or "",
                    }
                    for c in page.get("value", [])
                ]
        except NotFound:
            ctx.logger.info("team %s vanished during the run", team.pk)  # its channels go as removed
        done += 1
        with ctx.batch():
            counts = upsert(
                TeamsChannel,
                ctx,
                [{**r, "team_id": team.pk} for r in rows],
                "channel_id",
                ["display_name", "membership_type", "team_id"],
            )
            checkpoint["team_after"] = team.pk
            ctx.save_checkpoint(checkpoint, **counts)
        ctx.progress(done=done, total=total)


def _mark_removed(ctx, started):
    now = timezone.now()
    with ctx.batch():
        gone = Q(connection=ctx.connection, removed_at=None) & Q(last_seen_at__lt=started)
        teams = TeamsTeam.objects.filter(gone).update(removed_at=now)
        # Channels of a removed team, and channels their team no longer lists.
        channels = TeamsChannel.objects.filter(
            Q(connection=ctx.connection, removed_at=None)
            & (Q(last_seen_at__lt=started) | Q(team__removed_at__isnull=False))
        ).update(removed_at=now)
        ctx.save_checkpoint({**ctx.checkpoint, "phase": "done"}, deleted=teams + channels)
