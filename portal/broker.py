"""Keeps a Celery worker alive when its Redis broker restarts while a task is running.

With kombu 5.7's Redis transport and Celery 5.7's consumer, a broker connection loss runs
``connection.collect()`` (which detaches the transport from its ``Connection``: the
transport's ``client`` becomes ``None``) and then ``connection.close()``. Closing the channel
restores the messages it delivered but has not acknowledged yet (a busy worker always has one
with ``task_acks_late``), and that restore builds a fresh Redis pool from
``Channel._connparams``, which reads ``self.connection.client.hostname``. The client is gone,
so it raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``. That is not a
connection error, so Celery reports "Unrecoverable error" and the worker exits once its
running task ends. The late ack of that task takes the same path. An idle worker has nothing
to restore and survives.

The same read of ``conninfo.hostname`` from a detached transport is reported upstream in
https://github.com/celery/kombu/issues/582 and https://github.com/celery/kombu/issues/970;
the pinned kombu 5.7.0 still does not guard it on this path. When upgrading kombu or Celery,
tests/portal/test_broker_restart.py (run with ``install()`` disabled) shows whether this is
still needed.

The fix: each channel remembers the connection parameters it was built with and uses them once
its transport is detached, so the restore and the late ack still reach Redis (or fail with a
Redis ``ConnectionError``, which kombu and Celery treat as a recoverable connection loss and
the worker reconnects). Source read: kombu/transport/redis.py ``Channel._connparams``,
kombu/connection.py ``Connection._do_close_transport``, celery/worker/consumer/consumer.py
``Consumer.on_connection_error_after_connected``.
"""

from __future__ import annotations

import redis
from kombu.transport import redis as kombu_redis

_ORIGINAL_CONNPARAMS = kombu_redis.Channel._connparams


def _connparams(self, asynchronous=False):
    remembered = self.__dict__.setdefault("_portal_connparams", {})
    if self.connection.client is None:
        params = remembered.get(asynchronous) or remembered.get(not asynchronous)
        if params is None:
            raise redis.exceptions.ConnectionError("broker connection already closed")
        return dict(params)
    params = _ORIGINAL_CONNPARAMS(self, asynchronous=asynchronous)
    remembered[asynchronous] = dict(params)
    return params


def install():
    """Idempotent; called when the Celery app is created."""
    if kombu_redis.Channel._connparams is not _connparams:
        kombu_redis.Channel._connparams = _connparams
