"""A transactional outbox for Celery work.

`enqueue` writes an OutboxMessage in the caller's transaction and, once that transaction
commits, hands it to the broker at once. A broker that is down costs nothing but a delay:
the row stays pending with its error, the request still answers normally, and the beat's
relay (`portal.outbox_relay`) sends it later, with exponential backoff. So a committed change
never loses its follow-up work, and a change that rolls back queues nothing.

Delivery is at least once: a row can be sent twice (the process dies between the broker's
acknowledgement and the row's update, or the relay and the immediate send overlap). Every
task handed over here is safe to run twice: each takes ids, reloads its rows and is
idempotent (an invitation email re-sends the same link, a sync run is claimed once, health
checks replace the latest results), and runs with acks_late.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from .celery import app
from .models import OutboxMessage

logger = logging.getLogger(__name__)

_ID_TYPES = (int, str, bool, type(None))


def enqueue(task, /, *, not_before=None, countdown=None, **kwargs):
    """Queue `task` (a Celery task or its registered name) with `kwargs` once the caller's
    transaction commits. `kwargs` are ids: plain values the task reloads its rows from.
    `not_before` (a datetime) leaves the row to the relay until then, instead of a broker eta.
    `countdown` (seconds, meant for short waits) hands it to the broker at once with that
    countdown, so it runs on time without waiting for the relay's tick; should that send fail,
    the relay sends it once the countdown and OUTBOX_RELAY_GRACE have passed. (In eager mode,
    where a countdown would run the task at once, it waits in the outbox as with not_before.)
    Never raises on a broker outage."""
    name = task if isinstance(task, str) else task.name
    for key, value in kwargs.items():
        if not isinstance(value, _ID_TYPES):
            raise TypeError(f"outbox kwargs are ids: {key} is a {type(value).__name__}")
    now = timezone.now()
    if countdown is not None and app.conf.task_always_eager:
        not_before, countdown = now + timedelta(seconds=countdown), None
    immediate = not_before is None
    grace = timedelta(seconds=settings.OUTBOX_RELAY_GRACE + (countdown or 0))
    message = OutboxMessage.objects.create(
        task_name=name,
        kwargs=kwargs,
        created_at=now,
        # The relay leaves a fresh row to the send right after commit; it takes over only if
        # that send failed or never happened (the process died first).
        next_attempt_at=now + grace if immediate else not_before,
    )
    if immediate:
        pk = message.pk
        transaction.on_commit(lambda: _send_now(pk, name, kwargs, countdown=countdown))
    return message


def _publish(name, kwargs, countdown=None):
    if app.conf.task_always_eager:
        # Test settings: the task runs here and now, as `task.delay` did, and its errors propagate.
        if name not in app.tasks:
            # Task modules load lazily outside a worker (app.autodiscover_tasks): load them.
            app.loader.import_default_modules()
        app.tasks[name].apply_async(kwargs=kwargs)
        return
    # A connection of our own with short timeouts and no publish retries: a request waits at
    # most a few seconds for a broker that is down, and the relay does the retrying.
    # ignore_result: nothing reads these results, and subscribing to one would reach for the
    # result backend (Redis too) with its own retries.
    # https://docs.celeryq.dev/en/stable/reference/celery.app.task.html#celery.app.task.Task.apply_async
    timeout = settings.OUTBOX_BROKER_TIMEOUT
    with app.connection_for_write(
        connect_timeout=timeout,
        transport_options={"socket_connect_timeout": timeout, "socket_timeout": timeout, "max_retries": 0},
    ) as connection:
        app.send_task(
            name, kwargs=kwargs, connection=connection, retry=False, ignore_result=True, countdown=countdown
        )


def _error_text(exc):
    # The exception's class and message (host and port at most), never the task's kwargs.
    return f"{type(exc).__name__}: {exc}"[: OutboxMessage._meta.get_field("last_error").max_length]


def _backoff(attempts):
    return timedelta(seconds=min(settings.OUTBOX_RETRY_BASE * 2 ** max(attempts - 1, 0), settings.OUTBOX_RETRY_MAX))


def _failed(pk, name, attempts, exc, now):
    error = _error_text(exc)
    logger.warning("outbox: %s (message %s) not handed to the broker, attempt %s: %s", name, pk, attempts, error)
    return {"attempts": attempts, "last_error": error, "next_attempt_at": now + _backoff(attempts)}


def _send_now(pk, name, kwargs, countdown=None):
    """Right after the caller's commit."""
    now = timezone.now()
    try:
        _publish(name, kwargs, countdown=countdown)
    except Exception as exc:
        try:
            OutboxMessage.objects.filter(pk=pk, sent_at=None).update(**_failed(pk, name, 1, exc, now))
        except DatabaseError:
            pass  # still pending: the relay takes it over after OUTBOX_RELAY_GRACE
        if app.conf.task_always_eager:
            raise
        return False
    try:
        OutboxMessage.objects.filter(pk=pk, sent_at=None).update(sent_at=timezone.now(), attempts=1, last_error="")
    except DatabaseError:
        # Sent, but still pending in the table: the relay sends it again, which the tasks allow.
        logger.warning("outbox: %s (message %s) sent but not marked sent", name, pk)
    return True


def relay(now=None, limit=None):
    """Send the pending messages that are due, oldest first, then prune old sent ones.
    Returns (sent, failed). Concurrent relays skip each other's rows."""
    now = now or timezone.now()
    limit = limit or settings.OUTBOX_RELAY_BATCH
    sent = failed = 0
    with transaction.atomic():
        due = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(sent_at=None, next_attempt_at__lte=now)
            .order_by("created_at", "pk")[:limit]
        )
        for message in due:
            try:
                _publish(message.task_name, message.kwargs)
            except Exception as exc:
                failed += 1
                fields = _failed(message.pk, message.task_name, message.attempts + 1, exc, now)
                OutboxMessage.objects.filter(pk=message.pk).update(**fields)
                # The broker is most likely down: the rest wait for the next tick rather than
                # each waiting out the timeout.
                break
            sent += 1
            OutboxMessage.objects.filter(pk=message.pk).update(
                sent_at=timezone.now(), attempts=message.attempts + 1, last_error=""
            )
    OutboxMessage.objects.filter(sent_at__lt=now - timedelta(days=settings.OUTBOX_KEEP_SENT_DAYS)).delete()
    return sent, failed
