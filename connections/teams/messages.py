"""The channel messages job (seed 003): new messages per channel since the last run, kept
only as the declared fields (id, author id, mentioned ids, created time; the body only while
the connection's channel_knowledge feature is on).

Graph: a channel's messages through the delta function under v1.0 (connections.microsoft.endpoints
CHANNEL_MESSAGES_DELTA, `$top=50`), the documented way to read what is new: Graph documents no
order for the message list. It takes no `$select`, so the job asks for nothing more than `$top`
(no `$expand` of replies) and keeps only the declared fields of what comes back. A full run
reads every root message; an incremental one only those changed after the channel's cursor
(`$filter=lastModifiedDateTime gt {cursor}`, which the delta function takes on its first
request). The cursor is the latest lastModifiedDateTime a finished pass saw, whatever the order
of the pages.

Resume: the checkpoint names the channel in progress, the nextLink of its next page and the
latest change of this pass; each page's rows and the checkpoint commit together, and rows
are upserted on (channel, message id): a page read twice writes no duplicate. The channel's
cursor moves only when its pass finished, so a killed pass never skips older new messages.

Channels come from the Teams directory job. Until a directory run has succeeded, a run of
this job starts one (or finds the one already queued) and waits for it rather than failing:
the first scheduled runs of a new connection start both at once. It waits as a queued run,
so the one-active-run-per-kind rule still holds for both jobs and its checkpoint is kept;
the directory run stays its own run, with its own checkpoint, rather than a phase of this one.
"""

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..microsoft import endpoints as graph_endpoints
from ..microsoft.graph import Graph, GraphError, NotFound
from ..models import SyncRun, TeamsChannel, TeamsMessage
from ..sync.errors import WAITING_FOR, JobError, RunWaits
from ..sync.services import sync_run_start
from .directory import job_error

PAGE_SIZE = 50  # Graph's maximum for channel messages
FEATURE_WITH_BODY = "channel_knowledge"


def _row(message, keep_body):
    author = ((message.get("from") or {}).get("user") or {}).get("id") or ""
    mentions = []
    for mention in message.get("mentions") or []:
        user_id = ((mention.get("mentioned") or {}).get("user") or {}).get("id")
        if user_id and user_id not in mentions:
            mentions.append(user_id)
    return {
        "message_id": str(message["id"]),
        "author_id": author,
        "mention_ids": mentions,
        "created_at": parse_datetime(message["createdDateTime"]),
        "body": ((message.get("body") or {}).get("content") or "") if keep_body else "",
    }


FIELDS = ["author_id", "mention_ids", "created_at", "body"]


def _write(ctx, channel, rows):
    existing = {
        values[0]: values[1:]
        for values in TeamsMessage.objects.filter(
            channel=channel, message_id__in=[r["message_id"] for r in rows]
        ).values_list("message_id", *FIELDS)
    }
    counts = {"fetched": len(rows), "created": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        before = existing.get(row["message_id"])
        if before is None:
            counts["created"] += 1
        elif tuple(before) == tuple(row[f] for f in FIELDS):
            counts["unchanged"] += 1
        else:
            counts["updated"] += 1
    TeamsMessage.objects.bulk_create(
        [TeamsMessage(organization=ctx.organization, connection=ctx.connection, channel=channel, **r) for r in rows],
        update_conflicts=True,
        unique_fields=["channel", "message_id"],
        update_fields=FIELDS,
    )
    return counts


def _directory_first(ctx):
    """Return once a Teams directory run has succeeded on the connection; otherwise start one
    (if none is active) and raise RunWaits for it. A directory run this run waited for that
    failed or was cancelled fails this run too, naming it (no endless restarts)."""
    runs = SyncRun.objects.filter(connection=ctx.connection, kind=SyncRun.Kind.TEAMS_DIRECTORY)
    if runs.filter(state=SyncRun.State.SUCCEEDED).exists():
        return
    waited = runs.filter(pk=ctx.checkpoint.get(WAITING_FOR)).first() if ctx.checkpoint.get(WAITING_FOR) else None
    other = waited if waited is not None and waited.is_active else runs.filter(state__in=SyncRun.ACTIVE_STATES).first()
    if other is None and waited is not None and waited.state != SyncRun.State.SUCCEEDED:
        raise JobError(
            f"The Teams directory run #{waited.pk} this run waited for {waited.get_state_display().lower()}"
            + (f": {waited.error}" if waited.error else "."),
            remedy="Fix what that run says and run the Teams directory job, then start this one again.",
        )
    if other is None:
        trigger = SyncRun.Trigger.SCHEDULE if ctx.run.trigger == SyncRun.Trigger.SCHEDULE else SyncRun.Trigger.MANUAL
        try:
            other = sync_run_start(connection=ctx.connection, kind=SyncRun.Kind.TEAMS_DIRECTORY,
                                   mode=SyncRun.Mode.FULL, trigger=trigger)
        except ValidationError as exc:
            other = runs.filter(state__in=SyncRun.ACTIVE_STATES).first()  # started by someone else meanwhile
            if other is None:
                raise JobError(exc.messages[0], remedy="Run the Teams directory job, then start this one again.") \
                    from exc
    other.refresh_from_db()
    if other.state == SyncRun.State.SUCCEEDED:
        return  # it ran here and now (a worker in the same process)
    raise RunWaits(other.pk, "no Teams directory run has succeeded yet")


def sync_messages(ctx):
    connection = ctx.connection
    _directory_first(ctx)
    keep_body = FEATURE_WITH_BODY in (connection.features or [])
    channels = TeamsChannel.objects.filter(connection=connection, removed_at=None).select_related("team")
    total = channels.count()
    if not total:
        ctx.progress(done=0, total=0)  # the directory ran and found no channel: nothing to read
        return
    if not keep_body:
        # The feature that needed bodies is off: keep none (seed 003: nothing beyond what is declared).
        with ctx.batch():
            TeamsMessage.objects.filter(connection=connection).exclude(body="").update(body="")
    checkpoint = dict(ctx.checkpoint)
    after = checkpoint.get("channel_after", 0)
    done = channels.filter(pk__lte=after).count()
    ctx.progress(done=done, total=total)
    try:
        graph = Graph(connection)
    except GraphError as exc:  # no consent of this organization's own
        raise job_error(exc) from exc
    incremental = ctx.mode == SyncRun.Mode.INCREMENTAL
    for channel in channels.filter(pk__gt=after).order_by("pk"):
        resuming = checkpoint.get("channel") == channel.pk
        try:
            _channel(ctx, graph, channel, checkpoint if resuming else {}, after, keep_body, incremental)
        except NotFound:
            ctx.logger.info("channel %s vanished; the next directory run marks it removed", channel.pk)
        except GraphError as exc:
            raise job_error(exc) from exc
        checkpoint = {"channel_after": channel.pk}
        after = channel.pk
        done += 1
        ctx.progress(done=done, total=total)


def _changed_at(message):
    return parse_datetime(message.get("lastModifiedDateTime") or message.get("createdDateTime") or "")


def _channel(ctx, graph, channel, resume, after, keep_body, incremental):
    cursor_at = channel.messages_cursor_at if incremental else None
    newest = resume.get("newest")  # [lastModifiedDateTime, id] of the latest change this pass has seen
    pages = graph_endpoints.channel_messages_delta_pages(
        graph,
        channel.team.team_id,
        channel.channel_id,
        top=PAGE_SIZE,
        modified_after=cursor_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if cursor_at else None,
        next_link=resume.get("next"),
    )
    for page in pages:
        rows = []
        for message in page.get("value", []):
            if message.get("messageType", "message") != "message" or message.get("replyToId"):
                continue  # system events and replies are not what the feature reads
            changed = _changed_at(message)
            if changed is None or (cursor_at is not None and changed <= cursor_at):
                continue  # nothing new (a clock-equal change was read by the last pass)
            rows.append(_row(message, keep_body))
            if newest is None or changed > parse_datetime(newest[0]):
                newest = [changed.isoformat(), str(message["id"])]
        next_link = page.get("@odata.nextLink")
        with ctx.batch():
            counts = _write(ctx, channel, rows) if rows else {"fetched": 0}
            if next_link:
                ctx.save_checkpoint(
                    {"channel": channel.pk, "next": next_link, "newest": newest, "channel_after": after}, **counts
                )
            else:
                _finish_channel(channel, newest)
                ctx.save_checkpoint({"channel_after": channel.pk}, **counts)
        if not next_link:
            return


def _finish_channel(channel, newest):
    fields = {"messages_synced_at": timezone.now()}
    changed = parse_datetime(newest[0]) if newest else None
    if changed is not None and (channel.messages_cursor_at is None or changed > channel.messages_cursor_at):
        fields.update(messages_cursor_id=newest[1], messages_cursor_at=changed)
    TeamsChannel.objects.filter(pk=channel.pk).update(**fields)
