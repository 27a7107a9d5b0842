"""The Celery application. Tasks live in each app's tasks.py, with explicit names."""

import os

from celery import Celery
from celery.worker.consumer import Consumer as CeleryConsumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class Consumer(CeleryConsumer):
    """The worker's consumer (CELERY_WORKER_CONSUMER): a worker that rides out a broker
    restart with a task in flight.

    On a lost broker connection, Celery 5.7.0's Consumer.on_connection_error_after_connected
    calls `connection.collect()`, which closes the channels and releases the transport, and
    then `connection.close()`, which closes the default channel a second time. With a task in
    flight that second close drops the channel's Redis pools and tries to restore the
    unacknowledged message through the released transport: kombu raises AttributeError
    ('NoneType' object has no attribute 'hostname'), which `ignore_errors` does not cover, and
    the worker stops ("Unrecoverable error"); had it gone on, the task's acknowledgement on that
    channel would fail the same way. Celery 5.6 stops after collect(), and so do we: once
    collect() released the transport, nothing is left to close. The message stays in Redis'
    unacked set until the task acknowledges it through its channel's pool, which reconnects.
    Celery 5.6.3 itself is no way out: `conf.update(task_always_eager=...)` does not reach
    namespaced settings there, and kombu 5.6 lacks the BRPOP health checks of 5.7.
    Drop this class once a Celery release stops closing a collected connection.
    """

    def on_connection_error_after_connected(self, exc):
        connection = self.connection
        if connection is not None:
            close = connection.close

            def close_unless_collected():
                # kombu's Connection.collect() ends with _do_close_transport(): _transport is None.
                if connection._transport is not None:
                    close()

            connection.close = connection.release = close_unless_collected
        super().on_connection_error_after_connected(exc)


app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
